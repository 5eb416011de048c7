// Bulk publish rate: events in chunks of 1,000, one chunk per transaction, one producer.
import type { CostMeter, CostPerEvent } from "../cost.ts";
import type { Peer } from "../peers/peer.ts";

/** Events committed per second publishing `total` events in chunks of `chunk`, and their cost. */
export async function bulkRate(peer: Peer, total: number, cost: CostMeter, chunk = 1000): Promise<{ rate: number; cost: CostPerEvent }> {
  await peer.reset();
  await peer.publishBulk(Array.from({ length: chunk }, (_, k) => `warm${k}`), 0); // warm the prepared statement
  await cost.start();
  const started = performance.now();
  for (let i = 0; i < total; i += chunk) {
    await peer.publishBulk(Array.from({ length: Math.min(chunk, total - i) }, (_, k) => `b${i + k}`), i);
  }
  const rate = total / ((performance.now() - started) / 1000);
  return { rate, cost: await cost.stop(total) };
}
