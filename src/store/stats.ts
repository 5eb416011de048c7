import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/** Event counts by status, and how long the oldest due event has been waiting. */
export interface Stats {
  pending: number;
  processing: number;
  /** Exact up to {@link EXACT_PUBLISHED}; beyond that an estimate from the table's statistics (`publishedEstimated`). */
  published: number;
  failed: number;
  /** Milliseconds since the oldest event that is due now fell due; 0 when none is due. */
  oldestDueAgeMs: number;
  /** True when `published` is an estimate. */
  publishedEstimated: boolean;
}

/** Published events are counted exactly up to this many; past it, estimated. */
export const EXACT_PUBLISHED = 100_000;

/**
 * Never a count of the whole table (counting by state is what hurts other queues at millions of rows): unfinished
 * events are counted through the due and parked indexes (the backlog, not the history), failed ones through their partial
 * index, published ones with a count that stops at {@link EXACT_PUBLISHED} rows, and past that the statistics'
 * live-row figure minus the rest. The oldest due event is the first entry of the due index.
 */
export function selectStats(schema: Schema): string {
  const s = schema.quoted;
  return `
select u.pending, u.processing,
       (select count(*) from ${s}.events where status = 'failed') as failed,
       (select count(*) from (select from ${s}.events where status = 'published' limit $1) p) as published,
       (select n_live_tup from pg_stat_user_tables where relid = '${s}.events'::regclass) as live,
       coalesce(extract(epoch from now() - (
         select next_attempt_at from ${s}.events where next_attempt_at is not null order by next_attempt_at limit 1
       )) * 1000, 0) as oldest_due_ms
from (select count(*) filter (where status = 'pending') as pending, count(*) filter (where status = 'processing') as processing
      from ${s}.events where next_attempt_at is not null or parked) u`;
}

/** Reads the stats; see {@link selectStats}. */
export async function stats(query: Query, schema: Schema): Promise<Stats> {
  const [r] = await query(selectStats(schema), [EXACT_PUBLISHED + 1]);
  const pending = Number(r.pending), processing = Number(r.processing), failed = Number(r.failed);
  let published = Number(r.published);
  const estimated = published > EXACT_PUBLISHED;
  if (estimated) published = Math.max(EXACT_PUBLISHED, Number(r.live ?? 0) - pending - processing - failed);
  return { pending, processing, published, failed, oldestDueAgeMs: Math.max(0, Math.round(Number(r.oldest_due_ms))), publishedEstimated: estimated };
}
