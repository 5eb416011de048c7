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
}

/** One pass over the table for every figure. */
export function selectStats(schema: Schema): string {
  return `
select count(*) filter (where status = 'pending') as pending,
       count(*) filter (where status = 'processing') as processing,
       count(*) filter (where status = 'published') as published,
       count(*) filter (where status = 'failed') as failed,
       coalesce(extract(epoch from now() - min(next_attempt_at) filter (where next_attempt_at <= now())) * 1000, 0) as oldest_due_ms
from ${schema.quoted}.events`;
}

/** Reads the stats; see {@link selectStats}. */
export async function stats(query: Query, schema: Schema): Promise<Stats> {
  const [r] = await query(selectStats(schema), []);
  return {
    pending: Number(r.pending),
    processing: Number(r.processing),
    published: Number(r.published),
    failed: Number(r.failed),
    oldestDueAgeMs: Math.round(Number(r.oldest_due_ms)),
  };
}
