import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Event counts by status for the dashboard, without counting the table: unfinished events (pending, processing,
 * and failed ones still retrying another delivery) through `events_due`, failed ones through
 * `events_failed`, each counted up to $1 so a huge backlog costs no more than the bound. The total is exact while
 * the table is small (under 2,000 pages, 16 MB) and otherwise PostgreSQL's estimate (`reltuples`, kept by
 * autovacuum); published is the total less the rest.
 */
export function selectStatusCounts(schema: Schema): string {
  const s = schema.quoted;
  return `
with unfinished as (
  select status from ${s}.events where next_attempt_at is not null order by next_attempt_at, seq limit $1
), failed as (
  select from ${s}.events where status = 'failed' limit $1
), size as (
  select pg_relation_size('${s}.events') / 8192 as pages,
         (select reltuples from pg_class where oid = '${s}.events'::regclass) as reltuples
)
select (select count(*) from unfinished where status = 'pending') as pending,
       (select count(*) from unfinished where status = 'processing') as processing,
       (select count(*) from unfinished) as unfinished,
       (select count(*) from failed) as failed,
       case when size.pages < 2000 then (select count(*) from ${s}.events) else greatest(size.reltuples, 0)::bigint end as total,
       size.pages >= 2000 as estimated
from size`;
}

/** Counts by status, each counted up to `max`; see {@link selectStatusCounts}. */
export interface StatusCounts {
  pending: number;
  processing: number;
  failed: number;
  /** Published: the total less the other statuses (an estimate when `estimated`). */
  published: number;
  total: number;
  /** True when the total (and so published) comes from the planner's estimate. */
  estimated: boolean;
  /** True when a count reached `max`: the figure is "at least". */
  capped: boolean;
}

/** Reads the counts; see {@link selectStatusCounts}. */
export async function statusCounts(query: Query, schema: Schema, max: number): Promise<StatusCounts> {
  const [r] = await query(selectStatusCounts(schema), [max]);
  const pending = Number(r.pending);
  const processing = Number(r.processing);
  const unfinished = Number(r.unfinished);
  const failed = Number(r.failed);
  const total = Number(r.total);
  return {
    pending,
    processing,
    failed,
    published: Math.max(0, total - failed - pending - processing),
    total,
    estimated: r.estimated === true,
    capped: unfinished >= max || failed >= max,
  };
}
