// Dispatch throughput of one build, for comparing commits and variants side by side (the bench's "dispatch 20k
// pre-loaded, no-op handler" figure, alone, in a process of its own):
//   tsc -p tsconfig.build.json && node dist/bench/drain.js [--tree=DIR] [--n=20000] [--runs=3] [--history=false]
//     [--telemetry=false] [--otel] [--db=NAME] [--statements] [--profile=PREFIX [--allocations]] [--cold]
// --tree names the directory holding a build's mod.js (default: this build), so one driver times any commit's code
// through the public API only. Prints one JSON line: events/s of each run after a warm-up, the process's and the
// database's CPU per event (bench/cost.ts),
// and with --statements how many statements the worker sent per 1,000 events, by their first words. --profile writes a
// CPU profile of each timed run (worker start to the last outcome; not the pre-loading), PREFIX.N.cpuprofile, or with
// --allocations a sampled allocation profile (objects the GC collected included), PREFIX.N.heapprofile.
import postgres from "postgres";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { costMeter } from "./cost.ts";
import { benchDatabase } from "./db.ts";
import { startSdk } from "./peers/otel.ts";
import { payload, quiet, until } from "./support.ts";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const tree = resolve(flag("tree") ?? new URL("..", import.meta.url).pathname);
const n = Number(flag("n") ?? 20_000);
const runs = Number(flag("runs") ?? 3);
// Passed only when given, so that a build older than the option runs too.
const history = flag("history") === "false" ? { history: false } : {};
const telemetry = flag("telemetry") === "false" ? { telemetry: false } : {};
const otel = args.includes("--otel");
const counting = args.includes("--statements");
const profile = flag("profile");
const allocations = args.includes("--allocations");
const inspector = profile ? new Session() : null;
inspector?.connect();
await inspector?.post("Profiler.enable");
await inspector?.post("Profiler.setSamplingInterval", { interval: 100 });
let timed = 0;

// deno-lint-ignore no-explicit-any
const { Outbox } = (await import(pathToFileURL(`${tree}/mod.js`).href)) as any;
const db = await benchDatabase(flag("db") ?? "pg_dispatch_bench_drain");
const SCHEMA = "bench_drain";
const statements = new Map<string, number>();
const sql = postgres(db.url, {
  max: 10,
  onnotice: () => {},
  debug: counting ? (_c: number, text: string) => {
    const key = text.trim().replace(/\s+/g, " ").slice(0, 60);
    statements.set(key, (statements.get(key) ?? 0) + 1);
  } : undefined,
});
const sdk = otel ? startSdk() : null;
const meter = postgres(db.url, { max: 1, onnotice: () => {} });
const cost = costMeter(meter);

/** One timed drain of `count` pre-loaded events; events/s from worker start to the last outcome written. */
async function drain(count: number): Promise<{ rate: number; nodeUs: number; dbUs: number }> {
  await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
  const outbox = new Outbox({ sql, schema: SCHEMA, logger: quiet, ...telemetry });
  await outbox.migrate();
  for (let i = 0; i < count; i += 1000) {
    const events = Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({ type: "user.created", source: "bench", id: `p${i + k}`, data: payload(i + k) }));
    await outbox.publishEvents(events, { notify: false });
  }
  let handled = 0;
  outbox.register("user.created", function first() {
    handled++;
  });
  statements.clear();
  const worker = outbox.worker({ concurrency: 500, batchSize: 500, ...history });
  await cost.start();
  const profiled = inspector && count === n ? ++timed : 0;
  if (profiled && allocations) {
    await inspector!.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  } else if (profiled) await inspector!.post("Profiler.start");
  const started = performance.now();
  await worker.start();
  await until(() => handled >= count, `${count} events handled`, 300_000, 2);
  await until(async () => (await sql.unsafe(`select count(*)::int as n from ${SCHEMA}.events where next_attempt_at is not null`))[0].n === 0, "every outcome", 60_000, 2);
  const rate = count / ((performance.now() - started) / 1000);
  const { nodeUs, dbUs } = await cost.stop(count);
  if (profiled && allocations) {
    writeFileSync(`${profile}.${profiled}.heapprofile`, JSON.stringify((await inspector!.post("HeapProfiler.stopSampling")).profile));
  } else if (profiled) writeFileSync(`${profile}.${profiled}.cpuprofile`, JSON.stringify((await inspector!.post("Profiler.stop")).profile));
  await worker.stop();
  return { rate, nodeUs, dbUs };
}

try {
  // --cold: no warm-up, as npm run bench's first run (its figures have none).
  if (!args.includes("--cold")) await drain(Math.min(n, 5000));
  const rates: number[] = [];
  const node: number[] = [];
  const database: number[] = [];
  for (let r = 0; r < runs; r++) {
    const { rate, nodeUs, dbUs } = await drain(n);
    rates.push(Math.round(rate));
    node.push(Math.round(nodeUs * 10) / 10);
    database.push(Math.round(dbUs * 10) / 10);
  }
  const sent = counting ? Object.fromEntries([...statements].map(([k, v]) => [k, Math.round((v / n) * 1000 * 10) / 10])) : undefined;
  console.log(JSON.stringify({ tree, n, ...history, ...telemetry, otel, rates, nodeUs: node, dbUs: database, statementsPer1000: sent }));
} finally {
  await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`).catch(() => {});
  await sdk?.shutdown();
  await sql.end({ timeout: 2 });
  await meter.end({ timeout: 2 });
  await db.close();
}
