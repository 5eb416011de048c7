// The dashboard on a large table: fills an outbox with 1,000,000 events (one INSERT ... SELECT generate_series,
// spread over 30 days: mostly published, 2% failed, a few waiting) and times each page rendered server-side through
// app.request (database reads + HTML, no network). Target: every page under 200 ms.
//
//   npm run bench:dashboard                    # 1,000,000 events
//   npm run bench:dashboard -- --events 200000 --keep   # fewer events; keep the database to EXPLAIN by hand
import postgres from "postgres";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { Outbox } from "../mod.ts";
import { benchDatabase } from "./db.ts";
import { median, percentile } from "./support.ts";

const args = process.argv.slice(2);
const EVENTS = Number(args[args.indexOf("--events") + 1] || 0) || 1_000_000;
const RUNS = 15;
/** Leave the database (pg_dispatch_bench_dashboard) in place afterwards, to EXPLAIN the pages' statements by hand. */
const KEEP = args.includes("--keep");

/** One statement: every event in its final state, with per-destination deliveries, in publish (seq) order. */
function fillStatement(n: number): string {
  return `
insert into dispatch.events (id, source, type, status, attempts, deliveries, data, next_attempt_at, published_at, failed_at, last_error, created_at)
select 'evt-' || g, 'shop', ty, st, case st when 'failed' then 4 else 1 end, dl,
       jsonb_build_object('order', g, 'total', g % 1000, 'currency', 'EUR'),
       case when st = 'pending' then now() + interval '10 minutes' end,
       case when st = 'published' then at + interval '200 milliseconds' end,
       case when st = 'failed' then at + interval '1 minute' end,
       case when st = 'failed' then 'billing: ' || err end,
       at
from generate_series(1, ${n}) g,
lateral (select now() - (${n} - g) * interval '2.6 seconds' as at,
                case when g % 100000 = 0 then 'audit.rare' when g % 4 = 0 then 'user.created' when g % 4 = 1 then 'order.created'
                     when g % 4 = 2 then 'order.updated' else 'invoice.paid' end as ty,
                (array['HTTP 503 from https://billing.example/hooks', 'Timed out after 30000 ms', 'HTTP 410 Gone'])[1 + g % 3] as err) a,
lateral (select case when g % 50 = 0 then 'failed' when g % 1000 = 7 or g > ${n} - 100 then 'pending' else 'published' end as st) s,
lateral (select case st
  when 'failed' then jsonb_build_object('billing', jsonb_build_object('status', 'failed', 'attempts', 4, 'lastError', err),
                                        'audit-log', '{"status": "delivered", "attempts": 1}'::jsonb)
  when 'pending' then case when g % 2 = 0 then '{}'::jsonb else jsonb_build_object('billing', jsonb_build_object('status', 'pending', 'attempts', 1, 'lastError', err),
                                        'audit-log', '{"status": "delivered", "attempts": 1}'::jsonb) end
  else case when ty = 'user.created' then '{"mailer": {"status": "delivered", "attempts": 1}, "audit-log": {"status": "delivered", "attempts": 1}}'::jsonb
            else '{"billing": {"status": "delivered", "attempts": 1}, "audit-log": {"status": "delivered", "attempts": 1}}'::jsonb end
  end as dl) d`;
}

async function main(): Promise<void> {
  // Its own database, so that it never drops the one a concurrent `npm run bench` is using.
  const db = await benchDatabase("pg_dispatch_bench_dashboard");
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  try {
    const outbox = new Outbox({ sql, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    await outbox.migrate();
    let t0 = performance.now();
    await sql.unsafe(fillStatement(EVENTS));
    const fillMs = performance.now() - t0;
    t0 = performance.now();
    await sql.unsafe("vacuum analyze dispatch.events");
    const vacuumMs = performance.now() - t0;
    const [{ size }] = await sql.unsafe("select pg_size_pretty(pg_total_relation_size('dispatch.events')) as size");
    console.log(`filled ${EVENTS.toLocaleString("en-US")} events in ${(fillMs / 1000).toFixed(1)} s, vacuum analyze ${(vacuumMs / 1000).toFixed(1)} s, table + indexes ${size}`);

    const app = outboxDashboard(outbox, { auth: { token: "bench" } });
    const headers = { authorization: "Bearer bench" };
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 16);
    const older = new Date(Date.now() - 10 * 86_400_000 - 3_600_000).toISOString().slice(0, 16);
    const pages: Array<[string, string]> = [
      ["overview", "/"],
      ["events, newest", "/events"],
      ["events, status=failed", "/events?status=failed"],
      ["events, type=order.* (prefix)", "/events?type=order.*"],
      ["events, failed at destination mailer (none)", "/events?status=failed&destination=mailer"],
      ["events, a rare type (window ends)", "/events?type=audit.rare"],
      ["events, a time range 10 days ago", `/events?from=${older}&to=${old}`],
      ["events, error text + destination", `/events?status=failed&destination=billing&error=${encodeURIComponent("HTTP 410 Gone")}`],
      ["events, by id", `/events?id=evt-${Math.floor(EVENTS / 2)}`],
      ["events, page 50 (cursor)", ""],
      ["event", `/event?id=evt-${Math.floor(EVENTS / 2)}&source=shop`],
      ["failures", "/failures"],
      ["destinations", "/destinations"],
      ["bulk retry preview (status=failed)", "/retry?status=failed"],
      ["replay preview (billing, type=order.*)", "/replay?destination=billing&type=order.*"],
    ];
    // A deep page: follow "Older" 49 times from the newest.
    let path = "/events";
    for (let i = 0; i < 49; i++) {
      const body = await (await app.request(`http://localhost${path}`, { headers })).text();
      const next = /id="older" href="([^"]+)"/.exec(body)?.[1];
      if (!next) break;
      path = next.replace(/&amp;/g, "&");
    }
    pages[pages.findIndex(([name]) => name.startsWith("events, page 50"))][1] = path;

    const rows: string[] = [];
    for (const [name, url] of pages) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < RUNS + 2; i++) {
        const t = performance.now();
        const res = await app.request(`http://localhost${url}`, { headers });
        const body = await res.text();
        const ms = performance.now() - t;
        if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
        bytes = body.length;
        if (i >= 2) times.push(ms); // two warm-up renders: prepared statements, JIT
      }
      const p50 = median(times), p95 = percentile(times, 95), max = Math.max(...times);
      rows.push(`| ${name} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${max.toFixed(1)} | ${(bytes / 1024).toFixed(0)} | ${max < 200 ? "yes" : "**no**"} |`);
      console.log(rows[rows.length - 1]);
    }
    console.log(`\n| page (${EVENTS.toLocaleString("en-US")} events) | median ms | p95 ms | max ms | KiB | < 200 ms |\n|---|--:|--:|--:|--:|---|\n${rows.join("\n")}`);
  } finally {
    await sql.end({ timeout: 2 });
    if (!KEEP) await db.close();
    else process.exit(0); // the bench database's admin connection stays open otherwise
  }
}

await main();
