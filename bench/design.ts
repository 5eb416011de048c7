// Table-design experiment: how fast can raw SQL claim and complete 20,000 pre-loaded events on each candidate
// layout of the outbox table? Not pg-dispatch's code: the same claim (batch of 500, SKIP LOCKED, lease) and batch
// completion (per-destination state written back) as plain statements, one layout per run, runs interleaved.
//   npm run bench:design             medians of 5 runs per layout (about 2 minutes)
//   npm run bench:design -- --runs=N
// "hot" counts updates PostgreSQL made heap-only (no new index entries), read once the run's connections closed.
import postgres, { type Sql } from "postgres";
import { benchDatabase } from "./db.ts";
import { median } from "./support.ts";

const EVENTS = 20_000;
const BATCH = 500;
const S = "bench_design";

interface Layout {
  name: string;
  what: string;
  ddl: string;
  /** True when a `queue` table holds the unfinished events apart from `events`. */
  split: boolean;
  claim: string;
  complete: string;
}

const WIDE = `seq bigint generated always as identity primary key, id text not null, source text not null,
  type text not null, specversion text not null default '1.0', subject text, time text, datacontenttype text,
  dataschema text, extensions jsonb, data jsonb, status text not null default 'pending', attempts integer not null default 0,
  max_retries integer, last_error text, ordering_key text, deliveries jsonb not null default '{}',
  scheduled_at timestamptz, created_at timestamptz not null default now(), published_at timestamptz`;
const IDENTITY = `create unique index on ${S}.events (id, source); create index on ${S}.events using brin (created_at);`;
const RETURNING = `e.seq, e.id, e.source, e.type, e.specversion, e.subject, e.time, e.datacontenttype, e.dataschema,
  e.extensions::text as extensions, e.data::text as data, e.max_retries, e.ordering_key, e.deliveries::text as deliveries, e.attempts`;
// The outcomes behind sub-selects and the lease as a join condition, as src/store/complete.ts does (plan stability).
const OUTCOMES = `unnest((select $1::bigint[]), (select $2::text[]), (select $3::text[]),
  (select array_fill($4::uuid, array[cardinality($1::bigint[])]))) as x(seq, status, deliveries, lease)`;
const SINGLE_COMPLETE = `update ${S}.events e set status = x.status, deliveries = x.deliveries::jsonb, next_attempt_at = null,
  lease = null, published_at = now() from ${OUTCOMES} where e.seq = x.seq and e.lease = x.lease`;
const SPLIT_COMPLETE = `with done as (delete from ${S}.queue q using ${OUTCOMES} where q.seq = x.seq and q.lease = x.lease returning q.seq)
  update ${S}.events e set status = 'published', deliveries = x.deliveries::jsonb, attempts = e.attempts + 1, published_at = now()
  from ${OUTCOMES} where e.seq = x.seq and e.seq = any(array(select seq from done))`;

const LAYOUTS: Layout[] = [
  {
    name: "current",
    what: "pg-dispatch 0.1 (migration 001): one table; the lease lives in the indexed next_attempt_at",
    split: false,
    ddl: `create table ${S}.events (${WIDE}, next_attempt_at timestamptz, lease uuid);
      create index on ${S}.events (next_attempt_at, seq) where next_attempt_at is not null;
      create index on ${S}.events (ordering_key, seq) where ordering_key is not null and next_attempt_at is not null;
      create index on ${S}.events (seq) where status = 'failed';`,
    claim: `with due as (select seq from ${S}.events where next_attempt_at <= now() order by next_attempt_at, seq
        limit $1 for update skip locked)
      update ${S}.events e set status = 'processing', lease = $2::uuid, attempts = e.attempts + 1,
        next_attempt_at = now() + interval '30 seconds'
      where e.seq = any(array(select seq from due)) returning ${RETURNING}`,
    complete: SINGLE_COMPLETE,
  },
  {
    name: "heap-only claim",
    what: "one table, fillfactor 70; the lease in an unindexed column; no index reads status",
    split: false,
    ddl: `create table ${S}.events (${WIDE}, next_attempt_at timestamptz, lease uuid, lease_until timestamptz)
        with (fillfactor = 70);
      create index on ${S}.events (next_attempt_at, seq) where next_attempt_at is not null;
      create index on ${S}.events (ordering_key, seq) where ordering_key is not null and next_attempt_at is not null;`,
    claim: `with due as (select seq from ${S}.events where next_attempt_at <= now()
        and (lease_until is null or lease_until < now()) order by next_attempt_at, seq limit $1 for update skip locked)
      update ${S}.events e set status = 'processing', lease = $2::uuid, attempts = e.attempts + 1,
        lease_until = now() + interval '30 seconds'
      where e.seq = any(array(select seq from due)) returning ${RETURNING}`,
    complete: SINGLE_COMPLETE.replace("lease = null,", "lease = null, lease_until = null,"),
  },
  {
    name: "queue table",
    what: "a narrow queue table (seq, run_at, lease) claimed and deleted; events (fillfactor 50) updated once",
    split: true,
    ddl: `create table ${S}.events (${WIDE}) with (fillfactor = 50);
      create table ${S}.queue (seq bigint primary key, run_at timestamptz not null, lease uuid, ordering_key text);
      create index on ${S}.queue (run_at, seq);`,
    claim: `with due as (select seq from ${S}.queue where run_at <= now() order by run_at, seq limit $1 for update skip locked),
      claimed as (update ${S}.queue q set lease = $2::uuid, run_at = now() + interval '30 seconds'
        where q.seq = any(array(select seq from due)) returning q.seq)
      select ${RETURNING} from ${S}.events e where e.seq = any(array(select seq from claimed))`,
    complete: SPLIT_COMPLETE,
  },
  {
    name: "queue table, heap-only claim",
    what: "as above, the queue (fillfactor 50) with its lease in an unindexed column",
    split: true,
    ddl: `create table ${S}.events (${WIDE}) with (fillfactor = 50);
      create table ${S}.queue (seq bigint primary key, run_at timestamptz not null, lease uuid,
        lease_until timestamptz, ordering_key text) with (fillfactor = 50);
      create index on ${S}.queue (run_at, seq);`,
    claim: `with due as (select seq from ${S}.queue where run_at <= now() and (lease_until is null or lease_until < now())
        order by run_at, seq limit $1 for update skip locked),
      claimed as (update ${S}.queue q set lease = $2::uuid, lease_until = now() + interval '30 seconds'
        where q.seq = any(array(select seq from due)) returning q.seq)
      select ${RETURNING} from ${S}.events e where e.seq = any(array(select seq from claimed))`,
    complete: SPLIT_COMPLETE,
  },
];

async function load(sql: Sql, layout: Layout): Promise<void> {
  await sql.unsafe(`drop schema if exists ${S} cascade; create schema ${S}`);
  await sql.unsafe(layout.ddl + IDENTITY);
  for (let i = 0; i < EVENTS; i += 1000) {
    const rows = JSON.stringify(Array.from({ length: 1000 }, (_, k) => ({
      id: crypto.randomUUID(), source: "bench", type: "user.created", time: new Date().toISOString(),
      datacontenttype: "application/json", data: { user_id: i + k, email: `user${i + k}@example.com` },
    })));
    const insert = `insert into ${S}.events (id, source, type, time, datacontenttype, data${layout.split ? "" : ", next_attempt_at"})
      select id, source, type, time, datacontenttype, data${layout.split ? "" : ", now()"}
      from json_to_recordset($1::text::json) as x(id text, source text, type text, time text, datacontenttype text, data jsonb)`;
    await sql.unsafe(layout.split ? `with e as (${insert} returning seq) insert into ${S}.queue (seq, run_at) select seq, now() from e` : insert, [rows]);
  }
  await sql.unsafe(`vacuum analyze ${S}.events`);
  if (layout.split) await sql.unsafe(`vacuum analyze ${S}.queue`);
}

/** Claims and completes every event, the next claim overlapping the last completion as the worker does. */
async function drain(sql: Sql, layout: Layout): Promise<number> {
  const lease = crypto.randomUUID();
  const started = performance.now();
  let completing: Promise<unknown> = Promise.resolve();
  for (;;) {
    const rows = await sql.unsafe(layout.claim, [BATCH, lease], { prepare: true });
    if (!rows.length) break;
    const seqs = rows.map((r) => r.seq as string);
    const deliveries = JSON.stringify({ handler: { status: "delivered", attempts: 1, lastError: null, nextAttemptAt: null, deliveredAt: Date.now() } });
    const write = (): Promise<unknown> => sql.unsafe(layout.complete, [seqs, seqs.map(() => "published"), seqs.map(() => deliveries), lease] as never[], { prepare: true });
    completing = completing.then(write);
  }
  await completing;
  const ms = performance.now() - started;
  const left = layout.split ? `select count(*)::int as n from ${S}.queue` : `select count(*)::int as n from ${S}.events where next_attempt_at is not null`;
  const [{ n }] = await sql.unsafe(left);
  if (n !== 0) throw new Error(`${layout.name}: ${n} events left unfinished`);
  return EVENTS / (ms / 1000);
}

/** Heap-only updates / all updates per table, read after the run's backends have exited (they report on exit). */
async function hot(url: string): Promise<string> {
  const meter = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await meter.unsafe(`select relname, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where schemaname = '${S}' order by relname`);
    return rows.map((r) => `${r.relname} ${r.n_tup_hot_upd}/${r.n_tup_upd}`).join(", ");
  } finally {
    await meter.end();
  }
}

const runs = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 5);
const db = await benchDatabase();
const rates = new Map<string, number[]>(LAYOUTS.map((l) => [l.name, []]));
try {
  for (let run = 1; run <= runs; run++) {
    for (const layout of LAYOUTS) {
      const sql = postgres(db.url, { max: 4, onnotice: () => {} });
      let rate: number;
      try {
        await load(sql, layout);
        rate = await drain(sql, layout);
      } finally {
        await sql.end({ timeout: 2 });
      }
      await new Promise((r) => setTimeout(r, 300));
      rates.get(layout.name)!.push(rate);
      process.stderr.write(`run ${run} ${layout.name.padEnd(29)} ${Math.round(rate).toString().padStart(6)} events/s  heap-only updates: ${await hot(db.url)}\n`);
    }
  }
} finally {
  await db.close();
}
const base = median(rates.get(LAYOUTS[0].name)!);
console.log(`\n${EVENTS.toLocaleString("en")} events, claim batches of ${BATCH}, medians of ${runs} runs\n`);
console.log("| layout | events/s | vs current | what |\n|---|--:|--:|---|");
for (const layout of LAYOUTS) {
  const m = median(rates.get(layout.name)!);
  console.log(`| ${layout.name} | ${Math.round(m).toLocaleString("en")} | ${(m / base).toFixed(2)}x | ${layout.what} |`);
}
