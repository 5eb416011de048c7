import type { Query } from "../client.ts";
import { type DbNumber, eventColumns, type EventRow } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * Claims up to $1 due events for lease $2 lasting $3 ms. SKIP LOCKED lets any number of workers claim side by side;
 * the lease lives in next_attempt_at, so an event whose worker died becomes due again when the lease runs out.
 * An event with an ordering key waits until every earlier event with that key has nothing left to do.
 * The claimed rows are found again by primary key (`= any(array(...))`): joining the CTE let the planner hash the
 * whole table on every claim, which made a batch cost grow with the backlog (measured: bench/RESULTS.md).
 * A row that still carries a lease was held by a worker that never wrote its outcome: `lease_lapsed` says so.
 * Also returns the database clock as the statement ends, so the worker can schedule retries on the database's time,
 * and, when it claimed fewer than $1, how long until the next event falls due (`in_ms`, as {@link nextDueEvent}
 * computes it, leaving out the rows this claim took: the statement still sees them as due): the worker sleeps on it
 * without a second round trip. Every row carries the same `in_ms`; a claim of nothing returns one row with no `seq`.
 */
export function claimEvents(schema: Schema): string {
  const s = schema.quoted;
  return `
with fast as (
  -- The claim commits without waiting for its WAL flush: a claim lost in a database crash only means the event is
  -- claimed (and delivered) again, which at-least-once allows; and the flush is off the commit-to-handler path.
  select set_config('synchronous_commit', 'off', true)
), due as (
  select e.seq as due_seq from ${s}.events e
  where e.next_attempt_at <= now() and ${unblocked(s)}
  order by e.next_attempt_at, e.seq
  limit $1
  for update skip locked
), claimed as (
  update ${s}.events e
  set status = 'processing', lease = $2::uuid, attempts = e.attempts + 1,
      next_attempt_at = now() + $3::integer * interval '1 millisecond',
      lease_lapsed = e.lease is not null
  where e.seq = any(array(select due_seq from due)) and exists (select from fast)
  returning ${eventColumns(CLAIMED_COLUMNS, "e")}, e.lease_lapsed, e.lease_expiries,
    extract(epoch from clock_timestamp()) * 1000 as db_now, extract(epoch from e.created_at) * 1000 as created_ms
)
select c.*, n.in_ms from (
  ${nextDueIn(s, "e.seq <> all(array(select seq from claimed)) and (select count(*) from claimed) < $1")}
) n left join claimed c on true`;
}

/** The event columns a claim returns: what a delivery needs. */
const CLAIMED_COLUMNS = [
  "seq", "id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema", "extensions", "data",
  "max_retries", "ordering_key", "deliveries", "attempts",
] as const;

/** An event as a claim returns it: what a delivery needs, and how the claim found it. */
export type ClaimedRow = Pick<EventRow, (typeof CLAIMED_COLUMNS)[number]> & {
  /** The event still carried a lease: its worker stopped without writing an outcome. */
  lease_lapsed: boolean;
  /** How many leases ran out on it before (see store/lapsed.ts). */
  lease_expiries: number | null;
  /** The database clock as the statement ended, in epoch milliseconds. */
  db_now: DbNumber;
  /** When the event was committed, in epoch milliseconds on the database's clock. */
  created_ms: DbNumber | null;
};

/** What a claim took, and when to look again. */
export interface Claim {
  rows: ClaimedRow[];
  /**
   * Milliseconds until the next event not taken here falls due (zero: now), or null when nothing is waiting; also
   * null after a full claim, which does not look (the worker claims again at once).
   */
  nextDueMs: number | null;
}

/** Claims a batch; see {@link claimEvents}. */
export async function claim(query: Query, schema: Schema, limit: number, lease: string, leaseMs: number): Promise<Claim> {
  const rows = await query(claimEvents(schema), [limit, lease, leaseMs]) as Array<ClaimedRow & { in_ms: DbNumber | null }>;
  return { rows: rows.filter((r) => r.seq != null), nextDueMs: dueIn(rows[0]?.in_ms) };
}

/**
 * An event with an ordering key waits until every earlier event with that key has nothing left to do. Parked events
 * count as unfinished: a publish that raced a finishing event can leave one parked ahead of a due one. Events that
 * wait are normally parked, out of the due index, so this test runs for few rows.
 *
 * It also waits while a later event of its key is in a worker's hands (leased, lease not run out): two publishers
 * of one key whose transactions overlap can commit the lower sequence number last, after the higher one was
 * claimed, and the key must still have one delivery in flight at a time. Both look-ups walk events_ordering.
 */
function unblocked(s: string): string {
  return `(e.ordering_key is null or not exists (
      select 1 from ${s}.events p
      where p.ordering_key = e.ordering_key and p.seq < e.seq and (p.next_attempt_at is not null or p.parked))
    and not exists (
      select 1 from ${s}.events q
      where q.ordering_key = e.ordering_key and q.seq > e.seq and q.next_attempt_at > now() and q.lease is not null))`;
}

/**
 * How long until the earliest claimable event is due (a scheduled event, a retry, another worker's lease), or null
 * when nothing is waiting: the worker sleeps until then. Zero or less means "claim again now": an event fell due
 * after the claim looked. Events waiting behind an ordering key are left out (parked ones are not even looked at); the
 * worker that finishes the event ahead of them looks again.
 */
export function nextDueEvent(schema: Schema): string {
  return nextDueIn(schema.quoted, "true");
}

function nextDueIn(s: string, also: string): string {
  return `select extract(epoch from min(e.next_attempt_at) - now()) * 1000 as in_ms
  from ${s}.events e where e.next_attempt_at is not null and ${unblocked(s)} and ${also}`;
}

/** Milliseconds until the next event falls due, or null. */
export async function nextDue(query: Query, schema: Schema): Promise<number | null> {
  const [row] = await query(nextDueEvent(schema), []);
  return dueIn(row?.in_ms as DbNumber | null | undefined);
}

function dueIn(inMs: DbNumber | null | undefined): number | null {
  return inMs == null ? null : Math.max(0, Number(inMs));
}
