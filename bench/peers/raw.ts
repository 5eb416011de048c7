// The raw-SQL baseline: the least a hand-written outbox can do with postgres.js on the same table and indexes as
// pg-dispatch (created by its migration): insert + pg_notify in one statement, a multi-row insert, and a
// SKIP LOCKED batch claim + batch complete loop woken by LISTEN. No per-destination state, no retries.
import postgres, { type Sql, type TransactionSql } from "postgres";
import { Outbox } from "../../mod.ts";
import { payload, quiet } from "../support.ts";
import type { OnEvent, Peer, WorkerSetup } from "./peer.ts";

const S = "bench_raw";
const BATCH = 1000;

/** The raw baseline on its own schema and pool. */
export function rawPeer(url: string, poolSize = 10): Peer {
  // The same pool as pg-dispatch's peer, statement hook included (pg-dispatch's counts statements for the idle figure).
  let sent = 0;
  const sql: Sql = postgres(url, { max: poolSize, onnotice: () => {}, debug: () => void sent++ });
  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let woken = false;
  let unlisten: (() => Promise<void>) | null = null;

  async function work(onEvent: OnEvent): Promise<void> {
    while (running) {
      woken = false;
      const rows = await sql`
        with due as (
          select seq from bench_raw.events where next_attempt_at <= now()
          order by next_attempt_at, seq limit ${BATCH} for update skip locked)
        update bench_raw.events e set status = 'processing', attempts = e.attempts + 1,
          next_attempt_at = now() + interval '30 seconds'
        from due where e.seq = due.seq
        returning e.seq, e.id, e.data`;
      if (rows.length) {
        for (const r of rows) onEvent(r.id as string);
        await sql`
          update bench_raw.events set status = 'published', next_attempt_at = null, published_at = now()
          where seq = any(${rows.map((r) => r.seq as string)}::bigint[])`;
      }
      if (rows.length === BATCH || woken || !running) continue;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  }

  return {
    name: "raw SQL",
    async reset() {
      await sql.unsafe(`drop schema if exists ${S} cascade`);
      await new Outbox({ sql, schema: S, logger: quiet }).migrate();
    },
    async publish(id, i) {
      await rawPublish(sql, S, id, i);
    },
    async publishBulk(ids, first) {
      const now = new Date();
      const time = now.toISOString();
      const rows = ids.map((id, k) => ({
        id, source: "bench", type: "user.created", time, datacontenttype: "application/json",
        data: payload(first + k), next_attempt_at: now,
      }));
      await sql`insert into bench_raw.events ${sql(rows as never, "id", "source", "type", "time", "datacontenttype", "data", "next_attempt_at")}`;
    },
    async preload(count) {
      for (let i = 0; i < count; i += 1000) {
        const n = Math.min(1000, count - i);
        await this.publishBulk(Array.from({ length: n }, (_, k) => `p${i + k}`), i);
      }
    },
    async start(onEvent: OnEvent, setup: WorkerSetup = {}) {
      if (setup.webhookUrl || (setup.destinations ?? 1) > 1) throw new Error("raw SQL: only the one-handler figures");
      running = true;
      const l = await sql.listen(S, () => {
        woken = true;
        wake?.();
      });
      unlisten = l.unlisten;
      loop = work(onEvent);
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      await unlisten?.();
      loop = null;
      unlisten = null;
    },
    async unfinished() {
      const [row] = await sql`select count(*)::int as n from bench_raw.events where next_attempt_at is not null`;
      return row.n as number;
    },
    async holdUncommitted() {
      throw new Error("raw SQL: not measured");
    },
    async close() {
      await this.stop();
      await sql.unsafe(`drop schema if exists ${S} cascade`);
      await sql.end({ timeout: 2 });
    },
  };
}

/**
 * The raw SQL peer's single publish: one insert into `schema`.events and a notification on the channel named like
 * the schema, in one statement. Also what bench/publish.ts compares pg-dispatch's statement with.
 */
export async function rawPublish(q: Sql | TransactionSql, schema: string, id: string, i: number): Promise<void> {
  await q`
    with e as (
      insert into ${q(schema)}.events (id, source, type, time, datacontenttype, data, next_attempt_at)
      values (${id}, 'bench', 'user.created', ${new Date().toISOString()}, 'application/json',
              ${JSON.stringify(payload(i))}::text::jsonb, now())
      returning 1)
    select pg_notify(${schema}, '') from e`;
}
