// Bulk publish rate: events in chunks of 1,000, one chunk per transaction, one producer.
import type { Peer } from "../peers/peer.ts";

/** Events committed per second publishing `total` events in chunks of `chunk`. */
export async function bulkRate(peer: Peer, total: number, chunk = 1000): Promise<number> {
  await peer.reset();
  await peer.publishBulk(Array.from({ length: chunk }, (_, k) => `warm${k}`), 0); // warm the prepared statement
  const started = performance.now();
  for (let i = 0; i < total; i += chunk) {
    await peer.publishBulk(Array.from({ length: Math.min(chunk, total - i) }, (_, k) => `b${i + k}`), i);
  }
  return total / ((performance.now() - started) / 1000);
}
