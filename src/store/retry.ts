import type { Query, Row } from "../client.ts";
import { EVENT_COLUMNS } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * Makes an event's failed deliveries due now with a fresh retry budget, and wakes the workers. Delivered ones stay
 * delivered. The attempt count goes on (it is the truth about what was tried); `budgetFrom` marks where the fresh
 * budget starts. An event a worker holds right now (it has a lease) is left alone.
 */
export function retryFailed(schema: Schema): string {
  const s = schema.quoted;
  return `
with retried as (
  update ${s}.events
  set deliveries = (
        select jsonb_object_agg(k, case when v->>'status' = 'failed'
          then v || jsonb_build_object('status', 'pending', 'nextAttemptAt', null, 'budgetFrom', v->'attempts') else v end)
        from jsonb_each(deliveries) as d(k, v)),
      status = 'pending', next_attempt_at = now(), published_at = null, lease_expiries = 0
  where id = $1 and ($2::text is null or source = $2) and lease is null
    and jsonb_path_exists(deliveries, '$.* ? (@.status == "failed")')
  returning ${EVENT_COLUMNS}
)
select *, (select pg_notify('${schema.channel}', '')) is null as notified from retried`;
}

/** Retries an event's failed deliveries; see {@link retryFailed}. Returns the updated rows (none if nothing failed). */
export async function retry(query: Query, schema: Schema, id: string, source: string | null): Promise<Row[]> {
  return await query(retryFailed(schema), [id, source]);
}
