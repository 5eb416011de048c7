// Commit-to-handler latency at a steady rate: the time from a publish resolving (its commit acknowledged) to the
// handler's first line, both read from this process's clock.
import type { Peer } from "../peers/peer.ts";
import { percentile, sleep, until } from "../support.ts";

/** p50 and p99 in ms over `seconds` of publishing `rate` events per second, one per transaction. */
export async function latency(peer: Peer, seconds: number, rate = 100): Promise<{ p50: number; p99: number }> {
  await peer.reset();
  const committed = new Map<string, number>();
  const handled = new Map<string, number>();
  await peer.start((id) => {
    if (!handled.has(id)) handled.set(id, performance.now());
  });
  try {
    const warmup = Math.min(20, rate);
    const total = Math.round(seconds * rate) + warmup;
    const started = performance.now();
    const publishes: Promise<void>[] = [];
    for (let k = 0; k < total; k++) {
      const wait = started + (k * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      const id = `l${k}`;
      publishes.push(peer.publish(id, k).then(() => {
        if (k >= warmup) committed.set(id, performance.now());
      }));
    }
    await Promise.all(publishes);
    await until(() => handled.size >= total, `${total} events handled by ${peer.name}`, 60_000, 2);
    const ms = [...committed].map(([id, t]) => handled.get(id)! - t);
    return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
  } finally {
    await peer.stop();
  }
}
