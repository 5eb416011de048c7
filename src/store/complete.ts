import type { Query } from "../client.ts";
import type { EventStatus, NewAttempt, StoredDelivery } from "../record.ts";
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
  /** The attempts this outcome comes from, for the attempt history (empty when history is off). */
  attempts: NewAttempt[];
  /** Deliveries that failed for good in this round, for the worker's `onDeliveryFailed` hook (not stored here). */
  failures?: DeliveryFailure[];
}

/** A delivery that failed for good, as the worker's `onDeliveryFailed` hook receives it. */
export interface DeliveryFailure {
  event?: { id: string; source: string; type: string };
  destination: string;
  attempts: number;
  error: string;
}

/**
 * Writes many outcomes of lease $6 in one statement: one array literal per short field, and the deliveries as one
 * JSON array read by position (JSON inside an array literal would need every quote escaped, a large share of the
 * worker's allocations). Cheaper for the server than one JSON document of outcomes (bench/RESULTS.md has the numbers). The lease check makes a late write from a worker that lost its lease (it stalled
 * past the lease and another worker took over) change nothing.
 *
 * `failed_at` keeps the time of the first failure while other deliveries of the event go on retrying. `last_error`
 * keeps the latest error while the event is unfinished, and is cleared when it is published: every delivery succeeded,
 * and what went wrong on the way is in the attempt history.
 *
 * The plan must walk the outcomes and find each event by primary key, whatever the statistics say. So the arrays
 * sit behind sub-selects (the planner cannot count them, and guesses few rows) and the lease is a join condition,
 * not a filter on the table: with `e.lease = $6` as a filter, an analyzed table (where almost every lease is null)
 * made the planner scan events first and rescan the 500 outcomes for each of its 500 rows (bench/RESULTS.md).
 *
 * The same statement keeps ordering keys moving (see migration 002): for each key whose completed event is now
 * finished it releases the key's first parked event (due now, or at its scheduledAt), unless another event of the
 * key before it is still unfinished; and for each key whose completed event must retry, it parks the next event of
 * the key if that one waits due (published while the completed event was in flight), so that no waiting event
 * stays in the claim's path for the length of a retry. Both touch at most one event per key, found by index, and
 * cost nothing when the batch has no ordering keys. The other events are found by `= any(array(...))`, by primary
 * key, for the reason the claim is; the look-ups within a key order by (ordering_key, seq) and stop at one row, so
 * the planner walks events_parked or events_ordering instead of the primary key or a hash of the whole table.
 */
export function completeEvents(schema: Schema, withHistory = false): string {
  const s = schema.quoted;
  return `
with done as (
  update ${s}.events e
  set status = x.status, deliveries = (select $3::text::jsonb) -> (x.i - 1)::integer, next_attempt_at = x.next_attempt_at,
      last_error = case when x.status = 'published' then null else coalesce(x.last_error, e.last_error) end,
      lease = null, lease_expiries = 0,
      published_at = case when x.status = 'published' then now() end,
      failed_at = case when x.status = 'failed' then coalesce(e.failed_at, now()) end
  from unnest((select $1::text::bigint[]), (select $2::text::text[]), (select $4::text::timestamptz[]),
              (select $5::text::text[]), (select array_fill($6::uuid, array[$7::integer]))) with ordinality
    as x(seq, status, next_attempt_at, last_error, lease, i)
  where e.seq = x.seq and e.lease = x.lease
  returning e.seq, e.ordering_key, e.next_attempt_at
),${withHistory ? ` ${recordAttempts(schema)},` : ""} released as (
  update ${s}.events w
  set parked = false, next_attempt_at = greatest(now(), w.scheduled_at)
  where w.seq = any(array(
      select (select f.seq from ${s}.events f where f.parked and f.ordering_key = k.key
              order by f.ordering_key, f.seq limit 1)
      from (select distinct d.ordering_key as key from done d where d.ordering_key is not null and d.next_attempt_at is null) k))
    and w.parked
    and (select p.seq from ${s}.events p
         where p.ordering_key = w.ordering_key and p.seq < w.seq and (p.next_attempt_at is not null or p.parked)
           and not exists (select from done d where d.seq = p.seq and d.next_attempt_at is null)
         order by p.ordering_key, p.seq limit 1) is null
  returning w.seq
), reparked as (
  update ${s}.events w
  set parked = true, next_attempt_at = null
  where w.seq = any(array(
      select (select n.seq from ${s}.events n
              where n.ordering_key = h.ordering_key and n.seq > h.seq and (n.next_attempt_at is not null or n.parked)
              order by n.ordering_key, n.seq limit 1)
      from done h where h.ordering_key is not null and h.next_attempt_at is not null))
    and not w.parked and w.lease is null and w.next_attempt_at is not null
  returning w.seq
)
select (select count(*) from done) as completed, (select count(*) from released) as released,
       (select count(*) from reparked) as reparked`;
}

/**
 * Appends the attempts ($8 onwards, one array per column) to the history in the same statement as the outcomes.
 * Only attempts of events this statement completed are recorded (those `done` updated: their lease still held), so a
 * stale worker's late write adds nothing. Reading `done` rather than probing events by primary key and lease for each
 * attempt saves an index look-up per attempt (bench/RESULTS.md, "Dispatch regression").
 */
function recordAttempts(schema: Schema): string {
  const s = schema.quoted;
  return `history as (
  insert into ${s}.attempts (event_seq, destination, attempt, started_at, duration_ms, outcome, status, error)
  select a.seq, a.destination, a.attempt, to_timestamp(a.started_ms / 1000.0), a.duration_ms, a.outcome, a.status, a.error
  from unnest((select $8::text::bigint[]), (select $9::text::text[]), (select $10::text::integer[]),
              (select $11::text::float8[]), (select $12::text::integer[]), (select $13::text::text[]),
              (select $14::text::integer[]), (select $15::text::text[]))
    as a(seq, destination, attempt, started_ms, duration_ms, outcome, status, error)
  where a.seq in (select d.seq from done d)
)`;
}

/** Writes outcomes and their attempts; see {@link completeEvents}. */
export async function complete(query: Query, schema: Schema, outcomes: Outcome[], lease: string): Promise<void> {
  const n = outcomes.length;
  const seqs = new Array<string>(n);
  const statuses = new Array<string>(n);
  const deliveries = new Array<Outcome["deliveries"]>(n);
  const next = new Array<string | null>(n);
  const errors = new Array<string | null>(n);
  let tried = 0;
  for (let i = 0; i < n; i++) {
    const o = outcomes[i];
    seqs[i] = o.seq;
    statuses[i] = o.status;
    deliveries[i] = o.deliveries;
    next[i] = o.next_attempt_at;
    errors[i] = o.last_error;
    tried += o.attempts.length;
  }
  const params: unknown[] = [
    arrayLiteral(seqs), arrayLiteral(statuses), JSON.stringify(deliveries), arrayLiteral(next), arrayLiteral(errors),
    lease, n,
  ];
  if (tried) params.push(...attemptColumns(outcomes));
  await query(completeEvents(schema, tried > 0), params);
}

/**
 * The attempts of many outcomes as one array literal per column, built in one pass. The columns that can only hold
 * digits, numbers and fixed words are joined without quotes; only the destination and the error are quoted (and
 * escaped) by {@link arrayLiteral}. Joining flat arrays of numbers and words was a third of the cost of building each
 * literal by concatenation (a CPU profile of the worker, bench/RESULTS.md, "Dispatch regression").
 */
function attemptColumns(outcomes: Outcome[]): string[] {
  const seq: string[] = [], destination: string[] = [], attempt: number[] = [], started: number[] = [];
  const duration: number[] = [], outcome: string[] = [], status: Array<number | string> = [], error: Array<string | null> = [];
  for (const o of outcomes) {
    for (const a of o.attempts) {
      seq.push(o.seq);
      destination.push(a.destination);
      attempt.push(a.attempt);
      started.push(a.startedAt);
      duration.push(Math.min(Math.round(a.durationMs), 2 ** 31 - 1));
      outcome.push(a.outcome);
      status.push(a.status ?? "NULL");
      error.push(a.error);
    }
  }
  const bare = (values: ReadonlyArray<string | number>): string => `{${values.join(",")}}`;
  return [bare(seq), arrayLiteral(destination), bare(attempt), bare(started), bare(duration), bare(outcome), bare(status), arrayLiteral(error)];
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
