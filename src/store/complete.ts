import type { Query } from "../client.ts";
import type { EventStatus, StoredDelivery } from "../record.ts";
import type { Schema } from "../schema.ts";

/** The outcome of one claimed event, ready to write. */
export interface Outcome {
  seq: string;
  lease: string;
  status: EventStatus;
  deliveries: Record<string, StoredDelivery>;
  /** ISO time of the next attempt, or null when nothing is left to do. */
  next_attempt_at: string | null;
  last_error: string | null;
}

/**
 * Writes many outcomes in one statement. The lease check makes a late write from a worker that lost its lease
 * (it stalled past the lease and another worker took over) change nothing.
 */
export function completeEvents(schema: Schema): string {
  return `
update ${schema.quoted}.events e
set status = x.status, deliveries = x.deliveries, next_attempt_at = x.next_attempt_at,
    last_error = coalesce(x.last_error, e.last_error), lease = null,
    published_at = case when x.status = 'published' then now() end
from json_to_recordset($1::text::json) as x(
  seq bigint, lease uuid, status text, deliveries jsonb, next_attempt_at timestamptz, last_error text)
where e.seq = x.seq and e.lease = x.lease`;
}

/** Writes outcomes; see {@link completeEvents}. */
export async function complete(query: Query, schema: Schema, outcomes: Outcome[]): Promise<void> {
  await query(completeEvents(schema), [JSON.stringify(outcomes)]);
}

/**
 * Hands claimed events back (a stopping worker that will not finish them): due now, lease cleared.
 */
export function releaseEvents(schema: Schema): string {
  return `
update ${schema.quoted}.events
set next_attempt_at = now(), lease = null,
    status = case when jsonb_path_exists(deliveries, '$.* ? (@.status == "failed")') then 'failed' else 'pending' end
where seq = any($1::bigint[]) and lease = $2::uuid`;
}

/** Releases events; see {@link releaseEvents}. */
export async function release(query: Query, schema: Schema, seqs: string[], lease: string): Promise<void> {
  await query(releaseEvents(schema), [seqs, lease]);
}
