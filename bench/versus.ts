// The bench's no-op dispatch figure (bench/figures/dispatch.ts) for pg-dispatch and graphile-worker alone, alternating
// which goes first, with the ratio of each pair and each run's CPU per event from worker start to the last outcome
// (this process and the database's backends, bench/cost.ts): the quick check of the dispatch target (npm run bench
// runs every figure).
//   tsc -p tsconfig.build.json && node dist/bench/versus.js [--runs=5] [--n=20000] [--db=NAME] [--webhook] [--all]
// --webhook: the webhook figure instead (every event POSTed to a local keep-alive sink).
import postgres from "postgres";
import { costMeter, type CostPerEvent } from "./cost.ts";
import { benchDatabase } from "./db.ts";
import { dispatchRate, startSink } from "./figures/dispatch.ts";
import { dispatchPeer } from "./peers/dispatch.ts";
import { graphilePeer } from "./peers/graphile.ts";
import type { OnEvent, Peer, WorkerSetup } from "./peers/peer.ts";
import { pgbossPeer } from "./peers/pgboss.ts";
import { rawPeer } from "./peers/raw.ts";
import { median } from "./support.ts";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const runs = Number(flag("runs") ?? 5);
const n = Number(flag("n") ?? 20_000);
const sink = args.includes("--webhook") ? await startSink() : null;
const db = await benchDatabase(flag("db") ?? "pg_dispatch_bench_versus");
const meter = postgres(db.url, { max: 1, onnotice: () => {} });
const cost = costMeter(meter);
// --all: pg-boss and raw SQL run their turns too, in the same process, as in npm run bench.
const peers = [dispatchPeer(db.url), graphilePeer(db.url), ...(args.includes("--all") ? [pgbossPeer(db.url), rawPeer(db.url)] : [])];
const results = new Map<string, number[]>(peers.map((p) => [p.name, []]));
const cpu = new Map<string, string[]>(peers.map((p) => [p.name, []]));
/**
 * The peer with the meter running from its worker's start (after the reset and the pre-load) to its stop (before its
 * pool's connections close, so that their CPU is still counted).
 */
function metered(peer: Peer, read: (c: CostPerEvent) => void): Peer {
  return Object.assign(Object.create(peer) as Peer, {
    async start(onEvent: OnEvent, setup?: WorkerSetup) {
      await cost.start();
      await peer.start(onEvent, setup);
    },
    async stop() {
      read(await cost.stop(n));
      await peer.stop();
    },
  });
}
const ratios: number[] = [];
try {
  const setup = sink ? { webhookUrl: sink.url } : {};
  for (const peer of peers) await dispatchRate(peer, Math.min(n, 5000), setup, sink ?? undefined);
  // --otel-first: the state npm run bench leaves after its telemetry figures (the SDK registered, then shut down).
  if (args.includes("--otel-first")) await dispatchRate(peers[0], Math.min(n, 5000), { otel: true });
  for (let r = 0; r < runs; r++) {
    const order = peers.map((_, i) => peers[(i + r) % peers.length]);
    const rates: Record<string, number> = {};
    for (const peer of order) {
      let c: CostPerEvent = { nodeUs: NaN, dbUs: NaN };
      if (sink && peer.name === "raw SQL") continue;
      const rate = await dispatchRate(metered(peer, (read) => (c = read)), n, setup, sink ?? undefined);
      rates[peer.name] = rate;
      results.get(peer.name)!.push(rate);
      cpu.get(peer.name)!.push(`${c.nodeUs.toFixed(1)}+${c.dbUs.toFixed(1)}`);
      process.stderr.write(`  ${peer.name.padEnd(16)} ${rate.toFixed(0)}/s\n`);
    }
    ratios.push(rates["pg-dispatch"] / rates["graphile-worker"]);
  }
} finally {
  for (const peer of peers) await peer.close().catch(() => {});
  await meter.end({ timeout: 2 });
  await sink?.close();
  await db.close();
}
for (const [name, rs] of results) {
  console.log(`${name}: events/s ${rs.map((x) => Math.round(x)).join(", ")} (median ${Math.round(median(rs))}); CPU us/event node+db ${cpu.get(name)!.join(", ")}`);
}
console.log(`pg-dispatch / graphile-worker per run: ${ratios.map((x) => x.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)}`);
