// Generated event ids, version 7 (time-ordered, what publish gives an event without an id) against random version 4
// UUIDs: bulk publish rate and WAL per event into a table that already holds 100,000 events, each round on a fresh
// schema after a checkpoint (so both pay the first touch of each index page). Rounds alternate which goes first.
//   npm run bench:event-ids -- [--rounds=10] [--events=20000]
import postgres from "postgres";
import { Outbox } from "../mod.ts";
import { newEventId } from "../src/event-id.ts";
import { benchDatabase } from "./db.ts";
import { median, quiet } from "./support.ts";

const arg = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const rounds = arg("rounds", 10);
const events = arg("events", 20_000);
const PRELOAD = 100_000;
const KINDS = { "version 7 (generated)": () => newEventId(), "version 4 (crypto.randomUUID)": () => crypto.randomUUID() };
type Kind = keyof typeof KINDS;

const db = await benchDatabase("pg_dispatch_bench_ids");
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
const rate: Record<string, number[]> = {};
const wal: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    const order = Object.keys(KINDS) as Kind[];
    if (round % 2) order.reverse();
    for (const kind of order) {
      const id = KINDS[kind];
      await sql.unsafe("drop schema if exists bench_ids cascade");
      const outbox = new Outbox({ sql, schema: "bench_ids", logger: quiet });
      await outbox.migrate();
      const batch = (n: number) => Array.from({ length: 1000 }, (_, k) => ({ id: id(), type: "t", source: "bench", data: { n, k } }));
      for (let n = 0; n < PRELOAD; n += 1000) await outbox.publishEvents(batch(n), { notify: false });
      await sql.unsafe("checkpoint");
      const [before] = await sql`select pg_current_wal_lsn()::text as lsn`;
      const started = performance.now();
      for (let n = 0; n < events; n += 1000) await outbox.publishEvents(batch(n), { notify: false });
      const seconds = (performance.now() - started) / 1000;
      const [after] = await sql`select pg_wal_lsn_diff(pg_current_wal_lsn(), ${before.lsn}::pg_lsn)::float8 as bytes`;
      (rate[kind] ??= []).push(events / seconds);
      (wal[kind] ??= []).push(after.bytes / events);
    }
  }
  console.log(`event ids: ${rounds} rounds of ${events.toLocaleString("en")} events after ${PRELOAD.toLocaleString("en")}, on ${db.where}`);
  console.log("| ids | events/s, median | min-max | WAL bytes per event, median |\n| --- | --: | --: | --: |");
  for (const kind of Object.keys(KINDS)) {
    const r = rate[kind];
    console.log(`| ${kind} | ${Math.round(median(r)).toLocaleString("en")} | ${Math.round(Math.min(...r)).toLocaleString("en")}-${Math.round(Math.max(...r)).toLocaleString("en")} | ${Math.round(median(wal[kind]))} |`);
  }
} finally {
  await sql.end({ timeout: 2 });
  await db.close();
}
