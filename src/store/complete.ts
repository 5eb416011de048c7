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
 * Writes many outcomes of lease $6 in one statement, one array per field (cheaper for the server than one JSON
 * document: 500 outcomes, EXPLAIN ANALYZE 7.3-8.3 -> 5.2-6.0 ms). The lease check makes a late write from a worker
 * that lost its lease (it stalled past the lease and another worker took over) change nothing.
 *
 * The plan must walk the outcomes and find each event by primary key, whatever the statistics say. So the arrays
 * sit behind sub-selects (the planner cannot count them, and guesses few rows) and the lease is a join condition,
 * not a filter on the table: with `e.lease = $6` as a filter, an analyzed table (where almost every lease is null)
 * made the planner scan events first and rescan the 500 outcomes for each of its 500 rows (64 ms instead of 5).
 */
export function completeEvents(schema: Schema): string {
  return `
update ${schema.quoted}.events e
set status = x.status, deliveries = x.deliveries::jsonb, next_attempt_at = x.next_attempt_at,
    last_error = coalesce(x.last_error, e.last_error), lease = null,
    published_at = case when x.status = 'published' then now() end
from unnest((select $1::text::bigint[]), (select $2::text::text[]), (select $3::text::text[]),
            (select $4::text::timestamptz[]), (select $5::text::text[]), (select array_fill($6::uuid, array[$7::integer])))
  as x(seq, status, deliveries, next_attempt_at, last_error, lease)
where e.seq = x.seq and e.lease = x.lease`;
}

/** Writes outcomes; see {@link completeEvents}. */
export async function complete(query: Query, schema: Schema, outcomes: Outcome[], lease: string): Promise<void> {
  const column = (pick: (o: Outcome) => string | null): string => arrayLiteral(outcomes.map(pick));
  await query(completeEvents(schema), [
    column((o) => o.seq), column((o) => o.status), column((o) => JSON.stringify(o.deliveries)),
    column((o) => o.next_attempt_at), column((o) => o.last_error), lease, outcomes.length,
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
