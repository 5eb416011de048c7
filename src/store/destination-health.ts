import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Deliveries per destination among the events that finished in the last hour: those published (every delivery
 * delivered) and those failed, each read from its partial index by time (`events_published_at`, `events_failed_at`),
 * newest first and at most $1 of each, so a busy hour costs no more than the bound. Also names the destinations of
 * the newest 1,000 events, so a destination that is quiet this hour still appears.
 */
export function selectDestinationHealth(schema: Schema): string {
  const s = schema.quoted;
  return `
with finished as (
  (select deliveries from ${s}.events where published_at >= now() - interval '1 hour' order by published_at desc limit $1)
  union all
  (select deliveries from ${s}.events where failed_at >= now() - interval '1 hour' order by failed_at desc limit $1)
), newest as (
  select deliveries from ${s}.events order by seq desc limit 1000
), counted as (
  select d.k as destination, count(*) filter (where d.v->>'status' = 'delivered') as delivered,
         count(*) filter (where d.v->>'status' = 'failed') as failed
  from finished f cross join lateral jsonb_each(f.deliveries) as d(k, v) group by 1
)
select coalesce(c.destination, n.destination) as destination, coalesce(c.delivered, 0) as delivered,
       coalesce(c.failed, 0) as failed, (select count(*) from finished) as scanned
from counted c
full join (select distinct jsonb_object_keys(deliveries) as destination from newest) n on n.destination = c.destination`;
}

/** A destination's outcomes in the last hour. */
export interface DestinationHealth {
  destination: string;
  delivered: number;
  failed: number;
}

/** Health per destination, and whether a bound cut the hour short; see {@link selectDestinationHealth}. */
export async function destinationHealth(query: Query, schema: Schema, max: number): Promise<{ destinations: DestinationHealth[]; capped: boolean }> {
  const rows = await query(selectDestinationHealth(schema), [max]);
  return {
    destinations: rows.map((r) => ({ destination: String(r.destination), delivered: Number(r.delivered), failed: Number(r.failed) })),
    capped: rows.some((r) => Number(r.scanned) >= max),
  };
}
