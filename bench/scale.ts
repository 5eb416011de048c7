// Stats and lists at scale: fills the events table with N rows (default 5,000,000: 97% published, 2% failed, 1%
// pending) in one INSERT ... SELECT, then times stats(), filtered list pages and one claim of a batch, each the median
// of 7 runs after a warm-up; the claim also on a table holding only the due rows, for the comparison. Run: npm run bench:scale -- [rows] [--keep]
import postgres from "postgres";
import { Outbox } from "../mod.ts";
import { toQuery } from "../src/client.ts";
import { claim } from "../src/store/claim.ts";
import { benchDatabase } from "./db.ts";
import { median, quiet } from "./support.ts";

const rows = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5_000_000);
const db = await benchDatabase("pg_dispatch_bench_scale");
const sql = postgres(db.url, { max: 4, onnotice: () => {} });
const outbox = new Outbox({ sql, schema: "bench_scale", logger: quiet });
const keep = process.argv.includes("--keep");
try {
  await outbox.migrate();
  const fillStarted = Date.now();
  await sql.unsafe(`
    insert into bench_scale.events (id, source, type, data, status, deliveries, next_attempt_at, created_at, published_at, last_error)
    select 'e' || i, 'bench', 'order.' || (i % 20), jsonb_build_object('i', i),
      case when i % 100 < 97 then 'published' when i % 100 < 99 then 'failed' else 'pending' end,
      case when i % 100 < 97 then '{"hook": {"status": "delivered", "attempts": 1}}'::jsonb
           when i % 100 < 99 then '{"hook": {"status": "failed", "attempts": 11, "lastError": "HTTP 500"}}'::jsonb
           else '{}'::jsonb end,
      case when i % 100 = 99 then now() + interval '1 hour' end,
      now() - (${rows} - i) * interval '10 ms', case when i % 100 < 97 then now() end,
      case when i % 100 in (97, 98) then 'hook: HTTP 500' end
    from generate_series(1, ${rows}) i`);
  await sql.unsafe(`vacuum analyze bench_scale.events`);
  const fillS = (Date.now() - fillStarted) / 1000;
  const time = async (run: () => Promise<unknown>): Promise<number> => {
    await run();
    const ms: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      await run();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  const figures: Record<string, number> = {
    "stats()": await time(() => outbox.stats()),
    "listEvents({ status: 'failed', limit: 50 })": await time(() => outbox.listEvents({ status: "failed", limit: 50 })),
    "listEvents({ type, limit: 50 })": await time(() => outbox.listEvents({ type: "order.7", limit: 50 })),
    "listEvents({ limit: 50 }), newest first": await time(() => outbox.listEvents({ limit: 50 })),
    "getEvent(id)": await time(() => outbox.getEvent("e4000000")),
  };
  // A claim of 500 due rows (made due, claimed, handed back between runs), on this table and on one that holds the
  // same due rows and nothing else: "claim latency unchanged" is the ratio of the two, measured in the same run.
  const query = toQuery(sql);
  await sql.unsafe(`update bench_scale.events set next_attempt_at = now() - interval '1 second' where status = 'pending'`);
  await sql.unsafe(`vacuum analyze bench_scale.events`);
  const due = Math.ceil(rows / 100);
  const small = new Outbox({ sql, schema: "bench_scale_small", logger: quiet });
  await small.migrate();
  await sql.unsafe(`
    insert into bench_scale_small.events (id, source, type, data, status, deliveries, next_attempt_at, created_at)
    select 'e' || i, 'bench', 'order.' || (i % 20), jsonb_build_object('i', i), 'pending', '{}'::jsonb,
      now() - interval '1 second', now() - (${due} - i) * interval '1 s'
    from generate_series(1, ${due}) i`);
  await sql.unsafe(`vacuum analyze bench_scale_small.events`);
  const claimMedian = async (schema: string): Promise<number> => {
    const lease = crypto.randomUUID();
    // Timed alone; the claimed rows are handed back (by primary key) between runs, outside the timing.
    const claims: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      const rows = (await claim(query, schema === "bench_scale" ? outbox.schema : small.schema, 500, lease, 30_000)).rows;
      if (i > 0) claims.push(performance.now() - t0);
      await sql.unsafe(`update ${schema}.events set next_attempt_at = now() - interval '1 second', lease = null, status = 'pending' where seq = any($1::bigint[])`, [rows.map((r) => String(r.seq))]);
    }
    return median(claims);
  };
  // Alternated, so that a busy moment of the machine falls on both.
  const big: number[] = [];
  const alone: number[] = [];
  for (let i = 0; i < 3; i++) {
    big.push(await claimMedian("bench_scale"));
    alone.push(await claimMedian("bench_scale_small"));
  }
  // The due rows above are every 100th row, each on a page of its own. Where the due events are the newest ones (a
  // backlog of fresh events, the usual case), they share pages as they do in the small table.
  await sql.unsafe(`update bench_scale.events set next_attempt_at = now() + interval '1 hour' where status = 'pending'`);
  await sql.unsafe(`
    update bench_scale.events set status = 'pending', next_attempt_at = now() - interval '1 second', published_at = null
    where seq > (select max(seq) from bench_scale.events) - ${due}`);
  await sql.unsafe(`vacuum analyze bench_scale.events`);
  const newest: number[] = [];
  for (let i = 0; i < 3; i++) {
    newest.push(await claimMedian("bench_scale"));
    alone.push(await claimMedian("bench_scale_small"));
  }
  figures[`claim 500 due events (${due.toLocaleString("en")} due, every 100th row)`] = median(big);
  figures[`claim 500 due events (the newest ${due.toLocaleString("en")} rows due)`] = median(newest);
  figures[`the same claim, table holding only ${due.toLocaleString("en")} due events`] = median(alone);
  const s = await outbox.stats();
  console.log(`scale bench: ${rows.toLocaleString("en")} rows (filled in ${fillS.toFixed(0)} s), on ${db.where}`);
  console.log(`stats: ${JSON.stringify(s)}`);
  console.log("| query | median of 7, ms |\n| --- | --: |");
  for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${v.toFixed(1)} |`);
} finally {
  await sql.end({ timeout: 2 });
  if (!keep) await db.close();
  else {
    console.log(`kept: ${db.url}`);
    process.exit(0);
  }
}
