import type { Query } from "../client.ts";
import type { StoreFilter } from "../filter.ts";
import type { Schema } from "../schema.ts";
import { filterConditions } from "./filter.ts";

/** Rows of the primary key one replay batch looks at, at most: each statement's cost is bounded, whatever the filter. */
export const REPLAY_WINDOW = 10_000;

/**
 * Events that have nothing left to do: no attempt due (`next_attempt_at is null`), not parked behind an ordering
 * key, not held by a worker. Replaying anything else would race the worker that is delivering it.
 */
const FINISHED = "e.next_attempt_at is null and not e.parked and e.lease is null and e.status in ('published', 'failed')";

/**
 * One batch of a replay to destination $3: up to $2 finished events matching the filter, in the window of sequence
 * numbers [$1 - $4, $1), newest first, get their delivery to $3 made pending with a fresh budget (created when the
 * event never had one: a backfill), and become due now. Why this shape:
 * - Only $3's delivery changes; the others keep their state. The delivery is marked `replay`, which tells the worker
 *   to attempt only the deliveries that have state (a destination registered since the event was published, and not
 *   the one replayed to, is not sent it as a side effect); the worker drops the mark once the delivery finishes.
 * - The attempt count goes on (it is the truth about what was tried) and `budgetFrom` starts the fresh budget there,
 *   as a retry by hand does (store/retry.ts).
 * - The walk is over the primary key in windows of $4 rows, so a filter that matches few events over a huge table is
 *   still many short statements, never one long scan or one transaction that locks it all; SKIP LOCKED leaves rows
 *   another statement holds alone. The batch is found again by primary key (`= any(array(...))`), as in
 *   store/claim.ts and store/retry-events.ts (test/plans.test.ts).
 * - The event stays `failed` (with `failed_at`) while another of its deliveries is failed, as after a retry of one
 *   destination, so the failures page keeps showing it.
 * Returns how many it made due, the lowest sequence number it touched, and notifies the workers once when any.
 */
export function replayEventsBatch(schema: Schema, filter: StoreFilter): { sql: string; params: (first: unknown[]) => unknown[] } {
  const s = schema.quoted;
  const where = filterConditions(filter, 5);
  const otherFailed = `exists (select from jsonb_each(e.deliveries) as o(k, v) where v->>'status' = 'failed' and k <> $3::text)`;
  const sql = `
with batch as (
  select e.seq from ${s}.events e
  where e.seq < $1::bigint and e.seq >= $1::bigint - $4::bigint and ${FINISHED}${where.sql.map((c) => `\n    and ${c}`).join("")}
  order by e.seq desc
  limit $2::integer
  for update skip locked
), replayed as (
  update ${s}.events e
  set deliveries = jsonb_set(e.deliveries, array[$3::text],
        coalesce(e.deliveries -> $3::text, '{"attempts": 0, "lastError": null}'::jsonb)
        || jsonb_build_object('status', 'pending', 'nextAttemptAt', null, 'deliveredAt', null, 'replay', true,
                              'budgetFrom', coalesce(e.deliveries -> $3::text -> 'attempts', '0'::jsonb))),
      status = case when ${otherFailed} then 'failed' else 'pending' end,
      failed_at = case when ${otherFailed} then e.failed_at end,
      next_attempt_at = now(), published_at = null, lease_expiries = 0
  where e.seq = any(array(select seq from batch))
  returning e.seq
), counted as (
  select count(*) as n, min(seq) as last from replayed
)
select n, last, case when n > 0 then (select pg_notify('${schema.channel}', '')) is null end as notified from counted`;
  return { sql, params: (first) => [...first, ...where.params] };
}

/** How many finished events match the filter, counting at most $1 (null: all): a replay's dry run. */
export function countReplayable(schema: Schema, filter: StoreFilter): { sql: string; params: unknown[] } {
  const where = filterConditions(filter, 2);
  const sql = `
select count(*) as n from (
  select from ${schema.quoted}.events e
  where ${FINISHED}${where.sql.map((c) => `\n    and ${c}`).join("")}
  limit $1::bigint
) x`;
  return { sql, params: where.params };
}

/** The highest sequence number, and the lowest: where a replay's walk starts and ends. Two reads of the primary key. */
export function seqBounds(schema: Schema): string {
  return `select (select max(seq) from ${schema.quoted}.events) as hi, (select min(seq) from ${schema.quoted}.events) as lo`;
}

/** Replays the matching finished events to `destination`, window by window; returns how many became due. */
export async function replayEvents(query: Query, schema: Schema, filter: StoreFilter, destination: string, batchSize = 500): Promise<number> {
  const [bounds] = await query(seqBounds(schema), []);
  if (bounds?.hi == null) return 0;
  const lo = BigInt(bounds.lo as string);
  const { sql, params } = replayEventsBatch(schema, filter);
  let before = BigInt(bounds.hi as string) + 1n;
  let total = 0;
  while (before > lo) {
    const [row] = await query(sql, params([String(before), batchSize, destination, REPLAY_WINDOW]));
    const n = Number(row?.n ?? 0);
    total += n;
    // A full batch may have left matches in its window (below the lowest it took); otherwise the window is done.
    before = n === batchSize && row.last != null ? BigInt(row.last as string) : before - BigInt(REPLAY_WINDOW);
  }
  return total;
}

/** Counts replayable events up to `max` (null: no bound); see {@link countReplayable}. */
export async function countReplay(query: Query, schema: Schema, filter: StoreFilter, max: number | null): Promise<number> {
  const { sql, params } = countReplayable(schema, filter);
  const [row] = await query(sql, [max, ...params]);
  return Number(row?.n ?? 0);
}
