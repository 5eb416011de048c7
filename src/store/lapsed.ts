import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Counts an attempt at an event whose last lease ran out without an outcome, before the attempt starts, in its own
 * committed statement: if this attempt kills the process too, the count survives it. Only for such events (rare),
 * so it costs nothing on the hot path. Returns nothing when the lease is no longer this worker's.
 */
export function countLapsedAttempt(schema: Schema): string {
  return `
update ${schema.quoted}.events set lease_expiries = lease_expiries + 1
where seq = $1 and lease = $2::uuid
returning lease_expiries`;
}

/** Counts the attempt; see {@link countLapsedAttempt}. Returns the new count, or null when the lease was lost. */
export async function countLapsed(query: Query, schema: Schema, seq: string, lease: string): Promise<number | null> {
  const [row] = await query(countLapsedAttempt(schema), [seq, lease]);
  return row ? Number(row.lease_expiries) : null;
}
