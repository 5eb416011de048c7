import type { Query } from "../client.ts";
import { EVENT_COLUMNS, type EventRow } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * Makes an event's failed deliveries due now with a fresh retry budget, and wakes the workers; with a destination
 * ($3), only that one's. Delivered ones stay delivered. The attempt count goes on (it is the truth about what was
 * tried); `budgetFrom` marks where the fresh budget starts. An event a worker holds right now (it has a lease) is left
 * alone. The event stays `failed` (and keeps `failed_at`) while another of its deliveries is still failed, so the
 * failures page goes on showing it; the worker only attempts the deliveries that are due.
 */
export function retryFailed(schema: Schema): string {
  const s = schema.quoted;
  return `
with retried as (
  update ${s}.events
  set deliveries = ${retriedDeliveries("deliveries", "($3::text is null or k = $3)")},
      status = case when ${stillFailed} then 'failed' else 'pending' end,
      failed_at = case when ${stillFailed} then failed_at end,
      next_attempt_at = now(), published_at = null, lease_expiries = 0
  where id = $1 and ($2::text is null or source = $2) and lease is null
    and case when $3::text is null then jsonb_path_exists(deliveries, '$.* ? (@.status == "failed")')
             else deliveries -> $3 ->> 'status' = 'failed' end
  returning ${EVENT_COLUMNS}
)
select *, (select pg_notify('${schema.channel}', '')) is null as notified from retried`;
}

/**
 * The deliveries column with its failed deliveries (those matching `which`, a condition on the name `k`) made pending
 * with a fresh retry budget: the attempt count goes on, `budgetFrom` marks where the new budget starts. Shared by the
 * retry of one event and the bulk retry, so both mean the same thing.
 */
export function retriedDeliveries(column: string, which: string): string {
  return `(
        select jsonb_object_agg(k, case when v->>'status' = 'failed' and ${which}
          then v || jsonb_build_object('status', 'pending', 'nextAttemptAt', null, 'budgetFrom', v->'attempts') else v end)
        from jsonb_each(${column}) as d(k, v))`;
}

/** With one destination retried, does another delivery of the event remain failed? */
const stillFailed = `$3::text is not null and exists (
        select from jsonb_each(deliveries) as o(k, v) where v->>'status' = 'failed' and k <> $3)`;

/** Retries an event's failed deliveries; see {@link retryFailed}. Returns the updated rows (none if nothing failed). */
export async function retry(query: Query, schema: Schema, id: string, source: string | null, destination: string | null = null): Promise<EventRow[]> {
  return await query(retryFailed(schema), [id, source, destination]) as EventRow[];
}
