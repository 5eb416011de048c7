import type { Query } from "../client.ts";
import type { AttemptRow } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * One event's attempts, oldest first, found by the event's sequence number through `attempts_event`. Bounded: an
 * event retried by hand for years still returns a page, the newest attempts kept.
 */
export function selectHistory(schema: Schema): string {
  return `
select destination, attempt, started_at, duration_ms, outcome, status, error from (
  select * from ${schema.quoted}.attempts where event_seq = $1 order by started_at desc limit $2
) a order by started_at, destination`;
}

/** The most attempts one read returns. */
export const HISTORY_LIMIT = 1000;

/** Reads an event's attempts; see {@link selectHistory}. */
export async function history(query: Query, schema: Schema, seq: string): Promise<AttemptRow[]> {
  return await query(selectHistory(schema), [seq, HISTORY_LIMIT]) as AttemptRow[];
}

/** Deletes up to $2 attempts older than $1 ms; the age bound lets the BRIN index skip the young part of the table. */
export function deleteOldAttempts(schema: Schema): string {
  const s = schema.quoted;
  return `
with old as (
  select ctid from ${s}.attempts where started_at < now() - $1::bigint * interval '1 millisecond' limit $2
), deleted as (
  delete from ${s}.attempts a using old where a.ctid = old.ctid returning 1
)
select count(*) as n from deleted`;
}

/** Deletes one batch of old attempts and returns how many went. */
export async function deleteOldHistory(query: Query, schema: Schema, olderThanMs: number, batch: number): Promise<number> {
  const rows = await query(deleteOldAttempts(schema), [olderThanMs, batch]);
  return Number(rows[0]?.n ?? 0);
}
