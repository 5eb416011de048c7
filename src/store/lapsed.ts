import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Counts an attempt at an event whose last lease ran out without an outcome, before the attempt starts, in its own
 * committed statement: if this attempt kills the process too, the count survives it. Only for such events (rare),
 * so it costs nothing on the hot path. Returns nothing when the lease is no longer this worker's.
 *
 * The lease ($3 ms) is lengthened to $3 × 2^count: should this worker die too, the suspect comes back after the events
 * that lapsed with it. A worker killed again and again from outside (a crash loop, an out-of-memory neighbour) then
 * charges a different bystander each time instead of the same head of the line, while an event that really kills its
 * worker is charged on every attempt and still fails after `maxLeaseExpiries`.
 */
export function countLapsedAttempt(schema: Schema): string {
  return `
update ${schema.quoted}.events set lease_expiries = lease_expiries + 1,
  next_attempt_at = greatest(next_attempt_at,
    now() + $3::integer * power(2, least(lease_expiries + 1, ${MAX_DOUBLINGS})) * interval '1 millisecond')
where seq = $1 and lease = $2::uuid
returning lease_expiries`;
}

/** How many times a suspect's lease doubles at most. */
const MAX_DOUBLINGS = 6;

/** Counts the attempt; see {@link countLapsedAttempt}. Returns the new count, or null when the lease was lost. */
export async function countLapsed(
  query: Query,
  schema: Schema,
  seq: string,
  lease: string,
  leaseMs: number,
): Promise<number | null> {
  const [row] = await query(countLapsedAttempt(schema), [seq, lease, leaseMs]);
  return row ? Number(row.lease_expiries) : null;
}
