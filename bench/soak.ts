// Reliability scenario 8, the soak (not part of `npm test`): a steady publish rate for ten minutes with a retention
// policy on; the table size and the worker's memory must stay flat. Prints a sample every 30 s and a verdict.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node_modules/.bin/bun bench/soak.ts
//   (or: npm run build && node dist/bench/soak.js)   SOAK_MS=600000 SOAK_RATE=100 to change length and rate.
import postgres from "postgres";
import { Outbox } from "../mod.ts";
import { startEmbeddedPostgres } from "../examples/embedded-postgres.ts";

const SOAK_MS = Number(process.env.SOAK_MS ?? 600_000);
const RATE = Number(process.env.SOAK_RATE ?? 100);
const SAMPLE_MS = Math.min(30_000, SOAK_MS / 10);
/**
 * SOAK_PRELOAD=n: n failed events (kept 30 days by retention, never claimed) are in the table before the soak, as in a
 * long-lived outbox: autovacuum's trigger grows with the table's rows, so this is where its settings tell.
 */
const PRELOAD = Number(process.env.SOAK_PRELOAD ?? 0);
/** SOAK_PIN=start,end (seconds): another session holds a transaction open (xmin pinned) in that window. */
const PIN = process.env.SOAK_PIN?.split(",").map(Number) as [number, number] | undefined;

interface Sample {
  atS: number;
  pinned: boolean;
  perS: number;
  indexKb: number;
  published: number;
  delivered: number;
  /** Unfinished and published events (the preloaded failed ones left out). */
  rows: number;
  /** Dead row versions in events, as the statistics count them, and how often autovacuum has vacuumed it. */
  dead: number;
  autovacuums: number;
  tableKb: number;
  rssMb: number;
  heapMb: number;
}

async function main(): Promise<void> {
  const server = process.env.DATABASE_URL ? null : await startEmbeddedPostgres();
  const url = process.env.DATABASE_URL ?? server!.url;
  const sql = postgres(url, { max: 8, onnotice: () => {} });
  const schema = `soak_${Date.now().toString(36)}`;
  const noop = (): void => {};
  const outbox = new Outbox({ sql, schema, logger: { debug: noop, info: noop, warn: noop, error: (m, f) => console.error(m, f) } });
  await outbox.migrate();
  // SOAK_SERVER_AUTOVACUUM=1: the server's default autovacuum settings instead of the outbox tables' own (migration 8).
  if (process.env.SOAK_SERVER_AUTOVACUUM) {
    for (const table of ["events", "attempts"]) {
      await sql.unsafe(`alter table "${schema}".${table} reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
        autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay)`);
    }
  }
  if (PRELOAD > 0) {
    await sql.unsafe(
      `insert into "${schema}".events (id, source, type, status, deliveries, last_error, failed_at)
       select 'preload-' || n, 'soak', 'soak.failed', 'failed', '{"x": {"status": "failed", "attempts": 1}}', 'preloaded', now()
       from generate_series(1, $1::integer) n`,
      [PRELOAD],
    );
    await sql.unsafe(`vacuum analyze "${schema}".events`);
  }
  // Dead row versions (every event is updated twice and deleted by retention) are reclaimed by autovacuum; with it
  // off, as on some test servers, the table grows whatever the outbox does.
  const [{ autovacuum }] = await sql`show autovacuum`;
  if (autovacuum !== "on") console.error(`autovacuum is ${autovacuum} on this server: the table will grow; run the soak on a server with it on (unset DATABASE_URL for the embedded one)`);
  let delivered = 0;
  outbox.register("*", function soakHandler(): void {
    delivered++;
  });
  const worker = outbox.worker({ retention: { publishedMs: 60_000, intervalMs: 10_000 } });
  await worker.start();

  const samples: Sample[] = [];
  const started = Date.now();
  let lastDelivered = 0;
  let lastAtS = 0;
  // The xmin horizon pinned: a transaction with an xid, open in another session, as a forgotten psql or a long report.
  let pinned: (() => void) | null = null;
  const pinner = postgres(url, { max: 1, onnotice: () => {} });
  if (PIN) {
    setTimeout(() => {
      void pinner.begin(async (tx) => {
        await tx`select txid_current()`;
        await new Promise<void>((r) => (pinned = r));
      });
    }, PIN[0] * 1000);
    setTimeout(() => {
      pinned?.();
      pinned = null;
    }, PIN[1] * 1000);
  }
  let published = 0;
  const sample = async (): Promise<void> => {
    const [r] = await sql.unsafe(
      `select (select count(*) from "${schema}".events where status <> 'failed')::int as rows,
              pg_table_size('"${schema}".events')::bigint as bytes, pg_indexes_size('"${schema}".events')::bigint as index_bytes,
              (select n_dead_tup from pg_stat_user_tables where relid = '"${schema}".events'::regclass)::int as dead,
              (select autovacuum_count from pg_stat_user_tables where relid = '"${schema}".events'::regclass)::int as autovacuums`,
    );
    const m = process.memoryUsage();
    const atS = Math.round((Date.now() - started) / 1000);
    const s: Sample = {
      atS,
      pinned: pinned !== null,
      perS: Math.round((delivered - lastDelivered) / Math.max(1, atS - lastAtS)),
      indexKb: Math.round(Number(r.index_bytes) / 1024),
      published,
      delivered,
      rows: r.rows,
      dead: r.dead,
      autovacuums: r.autovacuums,
      tableKb: Math.round(Number(r.bytes) / 1024),
      rssMb: Math.round(m.rss / 1048576),
      heapMb: Math.round(m.heapUsed / 1048576),
    };
    lastDelivered = delivered;
    lastAtS = atS;
    samples.push(s);
    console.log(JSON.stringify(s));
  };
  const timer = setInterval(() => void sample(), SAMPLE_MS);
  // A steady rate: one event every 1000/RATE ms, on schedule (not drifting with publish latency).
  while (Date.now() - started < SOAK_MS) {
    await outbox.publishEvent({ type: "soak.tick", source: "soak", data: { n: published } });
    published++;
    const aheadMs = started + (published * 1000) / RATE - Date.now();
    if (aheadMs > 0) await new Promise((r) => setTimeout(r, aheadMs));
  }
  clearInterval(timer);
  await sample();
  await worker.stop();

  // Flat: the last third of the samples is within 50% (table) and 30% (RSS) of the middle third.
  const third = Math.max(1, Math.floor(samples.length / 3));
  const avg = (xs: Sample[], k: "tableKb" | "rssMb"): number => xs.reduce((a, s) => a + s[k], 0) / xs.length;
  const middle = samples.slice(third, 2 * third);
  const last = samples.slice(-third);
  const tableGrowth = avg(last, "tableKb") / Math.max(1, avg(middle, "tableKb"));
  const rssGrowth = avg(last, "rssMb") / Math.max(1, avg(middle, "rssMb"));
  const lag = published - delivered;
  console.log(
    `[reliability] soak load=${RATE}ev/s,${SOAK_MS / 1000}s,retention=60s,autovacuum=${autovacuum}` +
      `${process.env.SOAK_SERVER_AUTOVACUUM ? "(server defaults)" : "(table settings)"},pin=${PIN ? PIN.join("-") + "s" : "none"},preload=${PRELOAD} published=${published} delivered=${delivered} ` +
      `lost=${Math.max(0, lag)} tableGrowth=${tableGrowth.toFixed(2)} rssGrowth=${rssGrowth.toFixed(2)} ` +
      `verdict=${tableGrowth < 1.5 && rssGrowth < 1.3 && lag === 0 ? "flat" : "GROWING-or-behind"}`,
  );
  await pinner.end({ timeout: 1 });
  await sql.unsafe(`drop schema "${schema}" cascade`);
  await sql.end({ timeout: 1 });
  await server?.stop();
}

await main();
