// Publish rate: 1 event per transaction from 8 concurrent producers, for a fixed time.
import type { Peer } from "../peers/peer.ts";

/** Events committed per second by `producers` loops, each publishing one event per transaction. */
export async function publishRate(peer: Peer, seconds: number, producers = 8): Promise<number> {
  await peer.reset();
  // Open every producer's connection and prepare its statement before the clock starts.
  await Promise.all(Array.from({ length: producers }, (_, p) => peer.publish(`warm${p}`, p)));
  let n = 0;
  let i = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: producers }, async (_, p) => {
    while (performance.now() < end) {
      const k = i++;
      await peer.publish(`e${p}-${k}`, k);
      n++;
    }
  }));
  return n / ((performance.now() - started) / 1000);
}
