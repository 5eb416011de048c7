import type { Query } from "../client.ts";
import type { EventStatus, StoredDelivery } from "../record.ts";
import type { Schema } from "../schema.ts";
import { arrayLiteral } from "./array.ts";

/** The outcome of one claimed event, ready to write. */
export interface Outcome {
  seq: string;
  status: EventStatus;
  deliveries: Record<string, StoredDelivery>;
  /** ISO time of the next attempt, or null when nothing is left to do. */
  next_attempt_at: string | null;
  last_error: string | null;
}

/**
 * Writes many outcomes of lease $6 in one statement: one array literal per short field, and the deliveries as one
 * JSON array read by position (JSON inside an array literal would need every quote escaped: that escaping was 19% of
 * the worker's allocations). Cheaper for the server than one JSON document of outcomes (500 outcomes, EXPLAIN
 * ANALYZE 7.3-8.3 -> 4.3-5.9 ms). The lease check makes a late write from a worker that lost its lease (it stalled
 * past the lease and another worker took over) change nothing.
 *
 * `failed_at` keeps the time of the first failure while other deliveries of the event go on retrying.
 *
 * The plan must walk the outcomes and find each event by primary key, whatever the statistics say. So the arrays
 * sit behind sub-selects (the planner cannot count them, and guesses few rows) and the lease is a join condition,
 * not a filter on the table: with `e.lease = $6` as a filter, an analyzed table (where almost every lease is null)
 * made the planner scan events first and rescan the 500 outcomes for each of its 500 rows (64 ms instead of 5).
 */
export function completeEvents(schema: Schema): string {
  return `
update ${schema.quoted}.events e
set status = x.status, deliveries = (select $3::text::jsonb) -> (x.i - 1)::integer, next_attempt_at = x.next_attempt_at,
    last_error = coalesce(x.last_error, e.last_error), lease = null,
    published_at = case when x.status = 'published' then now() end,
    failed_at = case when x.status = 'failed' then coalesce(e.failed_at, now()) end
from unnest((select $1::text::bigint[]), (select $2::text::text[]), (select $4::text::timestamptz[]),
            (select $5::text::text[]), (select array_fill($6::uuid, array[$7::integer]))) with ordinality
  as x(seq, status, next_attempt_at, last_error, lease, i)
where e.seq = x.seq and e.lease = x.lease`;
}

/** Writes outcomes; see {@link completeEvents}. */
export async function complete(query: Query, schema: Schema, outcomes: Outcome[], lease: string): Promise<void> {
  const n = outcomes.length;
  const seqs = new Array<string>(n);
  const statuses = new Array<string>(n);
  const deliveries = new Array<Outcome["deliveries"]>(n);
  const next = new Array<string | null>(n);
  const errors = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const o = outcomes[i];
    seqs[i] = o.seq;
    statuses[i] = o.status;
    deliveries[i] = o.deliveries;
    next[i] = o.next_attempt_at;
    errors[i] = o.last_error;
  }
  await query(completeEvents(schema), [
    arrayLiteral(seqs), arrayLiteral(statuses), JSON.stringify(deliveries), arrayLiteral(next), arrayLiteral(errors),
    lease, n,
  ]);
}

/**
 * Hands claimed events back (a stopping worker that will not finish them): due now, lease cleared.
 */
export function releaseEvents(schema: Schema): string {
  return `
update ${schema.quoted}.events
set next_attempt_at = now(), lease = null,
    status = case when jsonb_path_exists(deliveries, '$.* ? (@.status == "failed")') then 'failed' else 'pending' end
where seq = any($1::text::bigint[]) and lease = $2::uuid`;
}

/** Releases events; see {@link releaseEvents}. */
export async function release(query: Query, schema: Schema, seqs: string[], lease: string): Promise<void> {
  await query(releaseEvents(schema), [arrayLiteral(seqs), lease]);
}
