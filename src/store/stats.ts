import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/** Event counts by status, and how long the oldest due event has been waiting. */
export interface Stats {
  pending: number;
  processing: number;
  published: number;
  failed: number;
  /** Milliseconds since the oldest event that is due now fell due; 0 when none is due. */
  oldestDueAgeMs: number;
  /**
   * True when a count passed {@link EXACT_COUNT} and is an estimate from PostgreSQL's statistics (as fresh as the
   * last VACUUM or ANALYZE); every count is exact otherwise.
   */
  estimated: boolean;
}

/** Each status is counted exactly up to this many events; past it, estimated. */
export const EXACT_COUNT = 10_000;

/**
 * Never a count of the whole table (counting by state is what hurts other queues at millions of rows): each status
 * is counted exactly up to $1 rows — unfinished events through the due and parked indexes, failed ones through
 * theirs, published ones through `events_published_at` (`published_at` is set exactly while an event is published;
 * a scan of the table for them read every row of a table of waiting events) — and past that estimated:
 * unfinished and failed from the entry counts of their partial indexes, published from the table's row estimate less
 * the others. Every estimate is PostgreSQL's `reltuples`, written by the same VACUUM or ANALYZE, so they agree with
 * each other (the statistics system's live-row count is not used: insert counts a backend reports after a VACUUM are
 * added to the count that VACUUM wrote, so it can read double). The oldest due event is the first entry of the due
 * index.
 */
export function selectStats(schema: Schema): string {
  const s = schema.quoted;
  return `
select u.pending, u.processing, u.unfinished,
       (select count(*) from (select from ${s}.events where status = 'failed' limit $1) f) as failed,
       (select count(*) from (select from ${s}.events where published_at is not null limit $1) p) as published,
       (select reltuples from pg_class where oid = '${s}.events_due'::regclass) as due_estimate,
       (select reltuples from pg_class where oid = '${s}.events_failed'::regclass) as failed_estimate,
       (select reltuples from pg_class where oid = '${s}.events'::regclass) as rows_estimate,
       coalesce(extract(epoch from now() - (
         select next_attempt_at from ${s}.events where next_attempt_at is not null order by next_attempt_at limit 1
       )) * 1000, 0) as oldest_due_ms
from (select count(*) filter (where status = 'pending') as pending, count(*) filter (where status = 'processing') as processing,
             count(*) as unfinished
      from (select status from ${s}.events where next_attempt_at is not null or parked limit $1) x) u`;
}

/** Reads the stats; see {@link selectStats}. */
export async function stats(query: Query, schema: Schema): Promise<Stats> {
  const [r] = await query(selectStats(schema), [EXACT_COUNT + 1]);
  let pending = Number(r.pending), processing = Number(r.processing), failed = Number(r.failed), published = Number(r.published);
  let estimated = false;
  const over = (n: number): boolean => n > EXACT_COUNT;
  if (over(Number(r.unfinished))) {
    // The sample's share of each status, scaled to the due index's size (never below what was counted).
    estimated = true;
    const total = Math.max(Number(r.due_estimate ?? 0), EXACT_COUNT + 1);
    pending = Math.round((pending / Number(r.unfinished)) * total);
    processing = Math.round((processing / Number(r.unfinished)) * total);
  }
  if (over(failed)) {
    estimated = true;
    failed = Math.max(Math.round(Number(r.failed_estimate ?? 0)), EXACT_COUNT + 1);
  }
  if (over(published)) {
    estimated = true;
    published = Math.max(EXACT_COUNT + 1, Number(r.rows_estimate ?? 0) - pending - processing - failed);
  }
  return { pending, processing, published, failed, oldestDueAgeMs: Math.max(0, Math.round(Number(r.oldest_due_ms))), estimated };
}
