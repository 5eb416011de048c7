import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Deletes up to $3 finished events: published ones older than $1 ms, failed ones older than $2 ms. The created_at
 * bound lets the BRIN index skip the young part of the table; small batches keep locks and WAL bursts short.
 */
export function deleteOldEvents(schema: Schema): string {
  const s = schema.quoted;
  return `
with old as (
  select seq from ${s}.events
  where created_at < now() - least($1::bigint, $2::bigint) * interval '1 millisecond'
    and next_attempt_at is null
    and ((status = 'published' and published_at < now() - $1::bigint * interval '1 millisecond')
      or (status = 'failed' and created_at < now() - $2::bigint * interval '1 millisecond'))
  limit $3
), deleted as (
  delete from ${s}.events e using old where e.seq = old.seq returning 1
)
select count(*) as n from deleted`;
}

/** Deletes one batch of old events and returns how many went. */
export async function deleteOld(query: Query, schema: Schema, publishedMs: number, failedMs: number, batch: number): Promise<number> {
  const rows = await query(deleteOldEvents(schema), [publishedMs, failedMs, batch]);
  return Number(rows[0]?.n ?? 0);
}
