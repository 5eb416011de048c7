import type { Query } from "../client.ts";
import type { StoreFilter } from "../filter.ts";
import type { Schema } from "../schema.ts";
import { filterConditions } from "./filter.ts";
import { retriedDeliveries } from "./retry.ts";

/**
 * One batch of a bulk retry: up to $2 failed events below sequence number $1 that match the filter, newest first,
 * get their failed deliveries (only the filter's destination's, when it names one) reset to due now. The caller
 * walks down the table batch by batch, so a large set is many short transactions, never one that locks it all.
 * Rows come from `events_failed` (status = 'failed' is a literal, see store/filter.ts); SKIP LOCKED and
 * `lease is null` leave events a worker holds alone. The batch is found again by primary key (`= any(array(...))`),
 * as in store/claim.ts: joining the CTE let the planner hash the whole table for 500 rows (test/plans.test.ts). Returns how many it reset, the lowest sequence number it saw
 * (where the next batch starts) and notifies the workers once when it reset any.
 */
export function retryEventsBatch(schema: Schema, filter: StoreFilter): { sql: string; params: (first: unknown[]) => unknown[] } {
  const s = schema.quoted;
  const where = filterConditions({ ...filter, status: "failed" }, 3, { failedDelivery: true });
  const one = where.destination;
  const sql = `
with batch as (
  select e.seq from ${s}.events e
  where e.seq < $1::bigint and e.lease is null${where.sql.map((c) => `\n    and ${c}`).join("")}
  order by e.seq desc
  limit $2::integer
  for update skip locked
), retried as (
  update ${s}.events e
  set deliveries = ${retriedDeliveries("e.deliveries", one ? `k = ${one}` : "true")},
      status = case when ${one ? stillFailed(one) : "false"} then 'failed' else 'pending' end,
      failed_at = case when ${one ? stillFailed(one) : "false"} then e.failed_at end,
      next_attempt_at = now(), published_at = null, lease_expiries = 0
  where e.seq = any(array(select seq from batch))
  returning e.seq
), counted as (
  select count(*) as n, min(seq) as last from retried
)
select n, last, case when n > 0 then (select pg_notify('${schema.channel}', '')) is null end as notified from counted`;
  return { sql, params: (first) => [...first, ...where.params] };
}

function stillFailed(destination: string): string {
  return `exists (select from jsonb_each(e.deliveries) as o(k, v) where v->>'status' = 'failed' and k <> ${destination})`;
}

/** Retries every matching failed delivery, batch by batch; returns how many events became due. */
export async function retryEvents(query: Query, schema: Schema, filter: StoreFilter, batchSize = 500): Promise<number> {
  const { sql, params } = retryEventsBatch(schema, filter);
  let before = "9223372036854775807";
  let total = 0;
  for (;;) {
    const [row] = await query(sql, params([before, batchSize]));
    const n = Number(row?.n ?? 0);
    total += n;
    // A batch that reset fewer than it asked for may still have skipped locked rows; it ends the walk all the same,
    // because those rows are being worked on right now.
    if (n < batchSize || row.last == null) return total;
    before = String(row.last);
  }
}
