import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * The backlog per destination: of the $1 unfinished events due soonest (`events_due`, in due order; for events that
 * are not scheduled or retrying that is publish order), how many wait on each destination and since when. An event no worker has attempted yet has no deliveries: the worker
 * decides its destinations, so it is counted under the empty name ("not attempted yet"). Bounded by $1, so a
 * runaway backlog costs what the bound does; `scanned` tells the caller whether it saw all of it.
 */
export function selectBacklog(schema: Schema): string {
  const s = schema.quoted;
  return `
with unfinished as (
  select seq, created_at, deliveries from ${s}.events where next_attempt_at is not null order by next_attempt_at, seq limit $1
)
select coalesce(d.k, '') as destination, count(*) as waiting, min(u.created_at) as oldest,
       (select count(*) from unfinished) as scanned
from unfinished u
left join lateral (
  select k from jsonb_each(u.deliveries) as x(k, v) where v->>'status' = 'pending'
) d on true
where d.k is not null or not exists (select from jsonb_each(u.deliveries) as y(k, v) where v->>'status' = 'failed')
group by 1`;
}

/** One destination's waiting events. The empty name stands for events not attempted yet. */
export interface Backlog {
  destination: string;
  waiting: number;
  oldest: Date;
}

/** The backlog, and whether the bound cut it short; see {@link selectBacklog}. */
export async function backlog(query: Query, schema: Schema, max: number): Promise<{ destinations: Backlog[]; capped: boolean }> {
  const rows = await query(selectBacklog(schema), [max]);
  return {
    destinations: rows.map((r) => ({ destination: String(r.destination), waiting: Number(r.waiting), oldest: new Date(r.oldest as string) })),
    capped: rows.length > 0 && Number(rows[0].scanned) >= max,
  };
}
