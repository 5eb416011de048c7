// Publish, A/B: variants of single and bulk publish run in short slices, alternating, in one process, so that a change
// in the machine's load lands on every variant alike; per variant the median rate, Node CPU and database CPU per event.
//   npm run bench:publish                                   single and bulk, every variant
//   npm run bench:publish -- --slices=7 --seconds=2         7 slices of 2 s per single variant
//   npm run bench:publish -- --only=single --baseline=/path/to/other/dist/mod.js   adds that build's Outbox as "baseline"
//   options: --only=single,bulk, --variants=a,b (by name), --bulk=20000 (events per bulk slice), --producers=8, --db=NAME
// The variants: pg-dispatch's publishEvent and publishEvents; its single statement sent straight to the driver (its
// SQL without its JavaScript); the raw statement (insert + pg_notify, the bench's raw SQL peer); both inside sql.begin
// too (the caller's transaction: begin, the statement, commit); graphile-worker's and pg-boss's publish and bulk
// publish as `npm run bench` drives them (bench/peers/). With pg_stat_statements loaded on the server, the execution
// time of each variant's statements per event is printed too.
import postgres, { type Sql, type TransactionSql } from "postgres";
import * as current from "../mod.ts";
import { costMeter, type CostPerEvent } from "./cost.ts";
import { fromInput } from "../src/event.ts";
import { columnsOf, insertEvent } from "../src/store/publish.ts";
import { benchDatabase } from "./db.ts";
import { graphilePeer } from "./peers/graphile.ts";
import type { Peer } from "./peers/peer.ts";
import { pgbossPeer } from "./peers/pgboss.ts";
import { rawPublish } from "./peers/raw.ts";
import { median, payload, quiet } from "./support.ts";

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const slices = Number(arg("slices") ?? 5);
const seconds = Number(arg("seconds") ?? 2);
const bulkSize = Number(arg("bulk") ?? 20_000);
const only = arg("only")?.split(",");
const pick = arg("variants")?.split(",");
const PRODUCERS = Number(arg("producers") ?? 8);
const CHUNK = 1000;
const SOURCE = "bench";
const TYPE = "user.created";

type OutboxModule = typeof current;
interface Variant {
  name: string;
  kind: "single" | "bulk";
  schema: string;
  reset(): Promise<void>;
  /** One event (single) or one chunk (bulk), in a transaction of its own. */
  run(key: string, i: number, n: number): Promise<void>;
}

const db = await benchDatabase(arg("db") ?? "pg_dispatch_bench_publish");
// Every variant shares one pool of 10, as the peers of `npm run bench` each have one: the same connection handling.
const sql: Sql = postgres(db.url, { max: 10, onnotice: () => {} });
const meter = postgres(db.url, { max: 1, onnotice: () => {} });
const cost = costMeter(meter);
const statements = await meter`select count(*)::int as n from pg_extension where extname = 'pg_stat_statements'`
  .then(([r]) => r.n > 0)
  .catch(() => false);

function outboxVariants(name: string, m: OutboxModule): Variant[] {
  const schema = `bench_pub_${name.replace(/\W/g, "_")}`;
  const outbox = new m.Outbox({ sql, schema, logger: quiet });
  const reset = async (): Promise<void> => {
    await sql.unsafe(`drop schema if exists ${schema} cascade`);
    await outbox.migrate();
  };
  const event = (id: string, i: number) => ({ type: TYPE, source: SOURCE, id, data: payload(i) });
  return [
    { name, kind: "single", schema, reset, run: async (id, i) => void await outbox.publishEvent(event(id, i)) },
    { name: `${name} in tx`, kind: "single", schema, reset, run: async (id, i) => void await sql.begin((tx) => outbox.publishEvent(event(id, i), { tx })) },
    {
      name: `${name} bulk`, kind: "bulk", schema, reset,
      run: async (key, first, n) => void await outbox.publishEvents(Array.from({ length: n }, (_, k) => event(`${key}-${k}`, first + k))),
    },
  ];
}

function rawVariants(): Variant[] {
  const schema = "bench_pub_raw";
  const reset = async (): Promise<void> => {
    await sql.unsafe(`drop schema if exists ${schema} cascade`);
    await new current.Outbox({ sql, schema, logger: quiet }).migrate();
  };
  // The raw SQL peer's statement (bench/peers/raw.ts), on the same table and indexes.
  const raw = (q: Sql | TransactionSql, id: string, i: number) => rawPublish(q, "bench_pub_raw", id, i);
  return [
    { name: "raw SQL", kind: "single", schema, reset, run: async (id, i) => void await raw(sql, id, i) },
    { name: "raw SQL in tx", kind: "single", schema, reset, run: async (id, i) => void await sql.begin((tx) => raw(tx, id, i)) },
  ];
}

/**
 * pg-dispatch's own single statement and parameters, sent straight to the driver: its SQL without its JavaScript (the
 * plain insert a publish of its own sends first).
 */
function statementVariant(): Variant {
  const schema = "bench_pub_statement";
  const outbox = new current.Outbox({ sql, schema, logger: quiet });
  const event = fromInput({ type: TYPE, source: SOURCE, id: "x", data: payload(0) }, 1_000);
  const text = insertEvent(outbox.schema, true, columnsOf([event]), "fail");
  return {
    name: "pg-dispatch statement", kind: "single", schema,
    async reset() {
      await sql.unsafe(`drop schema if exists ${schema} cascade`);
      await outbox.migrate();
    },
    async run(id, i) {
      await sql.unsafe(text, [id, SOURCE, TYPE, new Date().toISOString(), "application/json", JSON.stringify(payload(i))], { prepare: true });
    },
  };
}

/** A peer of `npm run bench` (its own pool of 10), single and bulk. */
function peerVariants(peer: Peer): Variant[] {
  const schema = `bench_${peer.name.replace(/-worker$/, "").replace(/\W/g, "")}`; // bench_graphile, bench_pgboss
  const reset = (): Promise<void> => peer.reset();
  return [
    { name: peer.name, kind: "single", schema, reset, run: (id, i) => peer.publish(id, i) },
    { name: `${peer.name} bulk`, kind: "bulk", schema, reset, run: (key, first, n) => peer.publishBulk(Array.from({ length: n }, (_, k) => `${key}-${k}`), first) },
  ];
}

const peers = [graphilePeer(db.url), pgbossPeer(db.url)];
const variants = [
  ...outboxVariants("pg-dispatch", current),
  statementVariant(),
  ...rawVariants(),
  ...peers.flatMap(peerVariants),
];
const baseline = arg("baseline");
if (baseline) variants.push(...outboxVariants("baseline", (await import(baseline)) as OutboxModule));
const chosen = variants.filter((v) => (!only || only.includes(v.kind)) && (!pick || pick.includes(v.name)));

interface Sample {
  rate: number;
  cost: CostPerEvent;
  execUs: number;
}

async function singleSlice(v: Variant, slice: number): Promise<Sample> {
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => v.run(`${v.name}:warm${slice}-${p}`, p, 1)));
  await resetStatements();
  let n = 0;
  let i = 0;
  await cost.start();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: PRODUCERS }, async (_, p) => {
    while (performance.now() < end) {
      const k = i++;
      await v.run(`${v.name}:s${slice}-${p}-${k}`, k, 1);
      n++;
    }
  }));
  const rate = n / ((performance.now() - started) / 1000);
  return { rate, cost: await cost.stop(n), execUs: await execPerEvent(v, n) };
}

async function bulkSlice(v: Variant, slice: number): Promise<Sample> {
  await v.run(`${v.name}:warm${slice}`, 0, CHUNK);
  await resetStatements();
  await cost.start();
  const started = performance.now();
  for (let i = 0; i < bulkSize; i += CHUNK) await v.run(`${v.name}:b${slice}-${i}`, i, Math.min(CHUNK, bulkSize - i));
  const rate = bulkSize / ((performance.now() - started) / 1000);
  return { rate, cost: await cost.stop(bulkSize), execUs: await execPerEvent(v, bulkSize) };
}

async function resetStatements(): Promise<void> {
  if (statements) await meter`select pg_stat_statements_reset()`;
}

/** Server execution time per event of the statements that touched the variant's schema (pg_stat_statements). */
async function execPerEvent(v: Variant, events: number): Promise<number> {
  if (!statements) return NaN;
  const [row] = await meter`
    select coalesce(sum(total_exec_time), 0)::float8 as ms from pg_stat_statements
    where query like ${`%${v.schema}%`} and dbid = (select oid from pg_database where datname = current_database())`;
  return ((row.ms as number) * 1000) / events;
}

const samples = new Map<string, Sample[]>();
try {
  for (let s = 0; s < slices; s++) {
    // Rotate the order each slice, so that no variant always follows the same one.
    const order = chosen.map((_, k) => chosen[(k + s) % chosen.length]);
    for (const v of order) {
      // Empty tables for the first slice; afterwards every 5th (a slice adds a few thousand rows at most). Ids carry
      // the variant name, so variants that share a table (with and without a transaction) never repeat one.
      if (s % 5 === 0) await v.reset();
      const sample = v.kind === "single" ? await singleSlice(v, s) : await bulkSlice(v, s);
      (samples.get(v.name) ?? samples.set(v.name, []).get(v.name)!).push(sample);
      process.stderr.write(`  ${String(s + 1).padStart(2)} ${v.name.padEnd(24)} ${sample.rate.toFixed(0).padStart(7)}/s  node ${sample.cost.nodeUs.toFixed(1)} us  db ${sample.cost.dbUs.toFixed(1)} us  exec ${sample.execUs.toFixed(1)} us\n`);
    }
  }
} finally {
  for (const peer of peers) await peer.close().catch(() => {});
  for (const v of chosen) await sql.unsafe(`drop schema if exists ${v.schema} cascade`).catch(() => {});
  await sql.end({ timeout: 2 });
  await meter.end({ timeout: 2 });
  await db.close();
}

const f = (x: number, d = 0): string => (Number.isFinite(x) ? x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }) : "-");
console.log(`publish A/B: ${slices} slices per variant, alternating (single: ${PRODUCERS} producers x ${seconds} s; bulk: ${bulkSize} events in chunks of ${CHUNK})`);
console.log("| variant | events/s (median) | min-max | Node CPU/event | database CPU/event | statement exec/event |");
console.log("|---|--:|--:|--:|--:|--:|");
for (const [name, list] of samples) {
  const rates = list.map((x) => x.rate);
  console.log(`| ${name} | ${f(median(rates))} | ${f(Math.min(...rates))}-${f(Math.max(...rates))} | ${f(median(list.map((x) => x.cost.nodeUs)), 1)} us | ${f(median(list.map((x) => x.cost.dbUs)), 1)} us | ${f(median(list.map((x) => x.execUs)), 1)} us |`);
}
// Ratios within each slice, then their median: pairs measured under the same load.
const pairs: Array<[string, string]> = [
  ["pg-dispatch", "raw SQL"], ["pg-dispatch statement", "raw SQL"], ["pg-dispatch", "pg-dispatch statement"], ["pg-dispatch in tx", "raw SQL in tx"], ["pg-dispatch", "baseline"], ["pg-dispatch in tx", "baseline in tx"],
  ["pg-dispatch bulk", "baseline bulk"], ["pg-dispatch bulk", "graphile-worker bulk"], ["pg-dispatch bulk", "pg-boss bulk"], ["baseline bulk", "graphile-worker bulk"],
];
for (const [a, b] of pairs) {
  const x = samples.get(a);
  const y = samples.get(b);
  if (!x || !y) continue;
  const ratios = x.map((s, k) => s.rate / y[k].rate);
  console.log(`${a} / ${b}: median ${f(median(ratios), 2)}x, per slice ${ratios.map((r) => f(r, 2)).join(", ")}`);
}
