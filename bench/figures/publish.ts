// Publish rate: 1 event per transaction from 8 concurrent producers, for a fixed time.
import type { CostMeter, CostPerEvent } from "../cost.ts";
import type { Peer } from "../peers/peer.ts";

/** Events committed per second by `producers` loops, each publishing one event per transaction, and their cost. */
export async function publishRate(peer: Peer, seconds: number, cost: CostMeter, producers = 8): Promise<{ rate: number; cost: CostPerEvent }> {
  await peer.reset();
  // Open every producer's connection and prepare its statement before the clock starts.
  await Promise.all(Array.from({ length: producers }, (_, p) => peer.publish(`warm${p}`, p)));
  let n = 0;
  let i = 0;
  await cost.start();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: producers }, async (_, p) => {
    while (performance.now() < end) {
      const k = i++;
      await peer.publish(`e${p}-${k}`, k);
      n++;
    }
  }));
  const rate = n / ((performance.now() - started) / 1000);
  return { rate, cost: await cost.stop(n) };
}
