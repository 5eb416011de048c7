// The bench: every figure for pg-dispatch, graphile-worker, pg-boss and raw SQL, side by side in one run.
//   npm run bench              full: medians of 3 runs (about 9 minutes)
//   npm run bench -- --quick   reduced, one run, under a minute (CI smoke test; nobody judges the numbers)
//   options: --runs=N, --only=publish,bulk,dispatch,latency,idle,memory, --db=NAME (the database to create and drop)
import { execFileSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { costMeter } from "./cost.ts";
import { benchDatabase } from "./db.ts";
import { bulkRate } from "./figures/bulk.ts";
import { dispatchRate, startSink } from "./figures/dispatch.ts";
import { idleRate } from "./figures/idle.ts";
import { latency } from "./figures/latency.ts";
import { publishRate } from "./figures/publish.ts";
import { dispatchPeer } from "./peers/dispatch.ts";
import { graphilePeer } from "./peers/graphile.ts";
import type { Peer } from "./peers/peer.ts";
import { pgbossPeer } from "./peers/pgboss.ts";
import { rawPeer } from "./peers/raw.ts";
import { median } from "./support.ts";
import { B, D, G, type RowSpec, table, type Values } from "./table.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const runs = Number(args.find((a) => a.startsWith("--runs="))?.slice(7) ?? (quick ? 1 : 3));
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const size = quick
  ? { publishS: 1, publishPairs: 1, bulk: 3_000, dispatch: 2_000, webhook: 500, latencyS: 1, idleS: 1, settle: 1.1, memory: 2_000 }
  : { publishS: 1.5, publishPairs: 5, bulk: 200_000, dispatch: 20_000, webhook: 20_000, latencyS: 10, idleS: 20, settle: 11, memory: 20_000 };
const k = (n: number): string => (n >= 1000 ? `${n / 1000}k` : String(n));

const ROWS: RowSpec[] = [
  { key: "publish", label: "publish, 1 event/tx, 8 producers", unit: "events/s", better: "up", target: ">= 0.9x raw (judged on the ratio row below)", met: () => medians.get("publishRatio")![D] >= 0.9 },
  { key: "publishNode", label: "... Node CPU per event", unit: "µs", better: "down", target: "report" },
  { key: "publishDb", label: "... database CPU per event", unit: "µs", better: "down", target: "report" },
  { key: "publishRatio", label: "... pg-dispatch / raw SQL, adjacent slices (median of the pairs)", unit: "ratio", better: "none", target: ">= 0.9", met: (v) => v[D] >= 0.9 },
  { key: "bulk", label: "bulk publish, chunks of 1,000", unit: "events/s", better: "up", target: ">= 1.2x the faster of graphile, pg-boss", met: (v) => v[D] >= 1.2 * Math.max(v[G], v[B]) },
  { key: "bulkNode", label: "... Node CPU per event", unit: "µs", better: "down", target: "report" },
  { key: "bulkDb", label: "... database CPU per event", unit: "µs", better: "down", target: "report" },
  { key: "bulkRatio", label: "... pg-dispatch / the faster of graphile, pg-boss, within each run (median)", unit: "ratio", better: "none", target: ">= 1.2", met: (v) => v[D] >= 1.2 },
  { key: "dispatch1", label: `dispatch ${k(size.dispatch)} pre-loaded, no-op handler`, unit: "events/s", better: "up", target: ">= 1.3x graphile", met: (v) => v[D] >= 1.3 * v[G] },
  { key: "nohistory", label: "... attempt history off (on is >= 0.9x of this)", unit: "events/s", better: "none", target: "-" },
  { key: "notelemetry", label: "... OpenTelemetry SDK registered, telemetry: false", unit: "events/s", better: "none", target: "-" },
  { key: "telemetry", label: "... OpenTelemetry SDK registered, telemetry on (no-op exporters)", unit: "events/s", better: "none", target: "-" },
  { key: "telemetryRatio", label: "... telemetry on / off, the two side by side in each run", unit: "ratio", better: "none", target: ">= 0.9", met: (v) => v[D] >= 0.9 },
  { key: "dispatch2", label: "... 2 destinations per event", unit: "events/s", better: "none", target: "report" },
  { key: "dispatch4", label: "... 4 destinations per event", unit: "events/s", better: "none", target: "report" },
  { key: "webhook", label: `dispatch ${k(size.webhook)} to a webhook (keep-alive sink)`, unit: "events/s", better: "up", target: "report" },
  { key: "p50", label: "commit-to-handler latency at 100/s, p50", unit: "ms", better: "down", target: "<= 1.0 and < graphile", met: (v) => v[D] <= 1 && v[D] < v[G] },
  { key: "p99", label: "commit-to-handler latency at 100/s, p99", unit: "ms", better: "down", target: "<= 4 and < graphile", met: (v) => v[D] <= 4 && v[D] < v[G] },
  { key: "idle", label: "transactions/s, worker idle", unit: "tx/s", better: "down", target: "<= 0.1", met: (v) => v[D] <= 0.1 },
  { key: "pending", label: "transactions/s, idle, uncommitted publish open", unit: "tx/s", better: "down", target: "0", met: (v) => v[D] <= 0 },
  { key: "idleSent", label: "statements/s the worker sent, idle (client count)", unit: "stmt/s", better: "none", target: "<= 0.1", met: (v) => v[D] <= 0.1 },
  { key: "pendingSent", label: "statements/s the worker sent, uncommitted publish open", unit: "stmt/s", better: "none", target: "0", met: (v) => v[D] <= 0 },
  { key: "control", label: "transactions/s, no worker (noise floor)", unit: "tx/s", better: "none", target: "-" },
  { key: "rssBefore", label: `worker RSS before a ${k(size.memory)} run`, unit: "MB", better: "none", target: "-" },
  { key: "rssAfter", label: `worker RSS after a ${k(size.memory)} run`, unit: "MB", better: "none", target: "flat (<= +15%)", met: (v) => v[D] <= 1.15 * medians.get("rssBefore")![D] },
];

const results = new Map<string, Record<string, number[]>>();
function record(key: string, peer: string, value: number): void {
  const row = results.get(key) ?? {};
  (row[peer] ??= []).push(value);
  results.set(key, row);
  process.stderr.write(`  ${key.padEnd(10)} ${peer.padEnd(16)} ${value.toFixed(2)}\n`);
}
async function measure(key: string, peer: Peer, run: () => Promise<number>): Promise<void> {
  try {
    record(key, peer.name, await run());
  } catch (err) {
    process.stderr.write(`  ${key} ${peer.name} failed: ${(err as Error).stack ?? err}\n`);
    record(key, peer.name, NaN);
  }
}
const wants = (figure: string): boolean => !only || only.includes(figure);

const started = Date.now();
const db = await benchDatabase(args.find((a) => a.startsWith("--db="))?.slice(5));
const meter = postgres(db.url, { max: 1, onnotice: () => {} });
const [{ version }] = await meter`select current_setting('server_version') as version`;
const peers = [dispatchPeer(db.url), graphilePeer(db.url), pgbossPeer(db.url), rawPeer(db.url)];
const [dispatch, graphile, pgboss, raw] = peers;
const cost = costMeter(meter);
try {
  if (wants("idle")) {
    // First, on an untouched database (no autovacuum work pending), one run each: these are counts, not rates.
    process.stderr.write("idle\n");
    for (const peer of [dispatch, graphile, pgboss]) {
      for (const [key, idle] of [["idle", "empty"], ["pending", "uncommitted"]] as const) {
        await measure(key, peer, async () => {
          const { commits, statements } = await idleRate(meter, peer, size.idleS, idle, size.settle);
          if (!Number.isNaN(statements)) record(`${key}Sent`, peer.name, statements);
          return commits;
        });
      }
    }
    // Last: autovacuum visits a new database soon after it is created, and that would count here.
    await measure("control", dispatch, async () => (await idleRate(meter, null, size.idleS, "none", size.settle)).commits);
  }
  const sink = await startSink();
  // Figure by figure, the peers back to back (in a rotating order), so that a change in the machine's load between
  // figures does not land on one peer only.
  for (let r = 0; r < runs; r++) {
    const order = peers.map((_, i) => peers[(i + r) % peers.length]);
    process.stderr.write(`run ${r + 1} of ${runs}\n`);
    for (const [figure, run] of [["publish", (p: Peer) => publishRate(p, size.publishS, cost)], ["bulk", (p: Peer) => bulkRate(p, size.bulk, cost)]] as const) {
      if (!wants(figure)) continue;
      const rate = (peer: Peer): Promise<void> => measure(figure, peer, async () => {
        const { rate, cost: c } = await run(peer);
        record(`${figure}Node`, peer.name, c.nodeUs);
        record(`${figure}Db`, peer.name, c.dbUs);
        return rate;
      });
      if (figure === "bulk") {
        for (const peer of order) await rate(peer);
        // The ratio within the run (the peers back to back), then its median over the runs.
        const last = (peer: Peer): number => results.get("bulk")![peer.name].at(-1)!;
        record("bulkRatio", dispatch.name, last(dispatch) / Math.max(last(graphile), last(pgboss)));
        continue;
      }
      // Single publish is bound by commits, which every notifying transaction makes one at a time under PostgreSQL's
      // notify lock, so the machine's moment (other processes' disk and CPU) moves it by 2x between runs. pg-dispatch
      // and raw SQL, the pair the target compares, run in adjacent short slices in alternating order, and the target
      // is judged on the median of the ratios of the pairs, each measured under the same load.
      for (const peer of order) if (peer !== dispatch && peer !== raw) await rate(peer);
      for (let k = 0; k < size.publishPairs; k++) {
        for (const peer of (r + k) % 2 ? [raw, dispatch] : [dispatch, raw]) await rate(peer);
        const last = (peer: Peer): number => results.get("publish")![peer.name].at(-1)!;
        record("publishRatio", dispatch.name, last(dispatch) / last(raw));
      }
    }
    if (wants("dispatch")) {
      for (const peer of order) await measure("dispatch1", peer, () => dispatchRate(peer, size.dispatch));
      await measure("nohistory", dispatch, () => dispatchRate(dispatch, size.dispatch, { history: false }));
      // Both with the SDK registered (an instrumented application pays for its context manager either way), side by
      // side, alternating which goes first so that drift in the machine's load does not favour one.
      const telemetryFigures = [["notelemetry", false], ["telemetry", true]] as const;
      for (const [key, telemetry] of r % 2 ? [...telemetryFigures].reverse() : telemetryFigures) {
        await measure(key, dispatch, () => dispatchRate(dispatch, size.dispatch, { telemetry, otel: true }));
      }
      // The ratio within each run, then its median: a ratio of the two figures' medians could pair one run's "off" with
      // another run's "on", measured under a different load.
      const last = (key: string): number => results.get(key)![dispatch.name].at(-1)!;
      record("telemetryRatio", dispatch.name, last("telemetry") / last("notelemetry"));
      await measure("dispatch2", dispatch, () => dispatchRate(dispatch, size.dispatch, { destinations: 2 }));
      await measure("dispatch4", dispatch, () => dispatchRate(dispatch, size.dispatch, { destinations: 4 }));
      for (const peer of order) {
        if (peer !== raw) await measure("webhook", peer, () => dispatchRate(peer, size.webhook, { webhookUrl: sink.url }, sink));
      }
    }
    if (wants("latency")) {
      for (const peer of order) {
        if (peer === raw) continue;
        let p99 = NaN;
        await measure("p50", peer, async () => {
          const l = await latency(peer, size.latencyS);
          p99 = l.p99;
          return l.p50;
        });
        record("p99", peer.name, p99);
      }
    }
  }
  await sink.close();
  if (wants("memory")) {
    process.stderr.write("memory (child processes)\n");
    const script = fileURLToPath(new URL("./figures/memory.js", import.meta.url));
    for (const peer of peers) {
      await measure("rssBefore", peer, async () => {
        const out = execFileSync(process.execPath, [script, peer.name, String(size.memory), db.url], { encoding: "utf8" });
        const { before, after } = JSON.parse(out.trim().split("\n").pop()!);
        record("rssAfter", peer.name, after);
        return before;
      });
    }
  }
} finally {
  for (const peer of peers) await peer.close().catch(() => {});
  await meter.end({ timeout: 2 });
  await db.close();
}

const medians = new Map<string, Values>();
for (const [key, byPeer] of results) {
  medians.set(key, Object.fromEntries(Object.entries(byPeer).map(([p, v]) => [p, median(v)])));
}
const load = loadavg().map((x) => x.toFixed(2)).join(" ");
console.log(`pg-dispatch bench${quick ? " (--quick)" : ""}: ${runs === 1 ? "one run" : `medians of ${runs} runs`}, ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`machine: ${availableParallelism()} cores, PostgreSQL ${version} (${db.where}), Node ${process.version}, load average after the run ${load}\n`);
console.log(table(ROWS, medians));
