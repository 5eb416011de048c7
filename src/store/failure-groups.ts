import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Failed deliveries grouped by destination and error text, among the newest $1 failed events (`events_failed`,
 * newest first): the answer to "what failed, and why?" at a cost the bound fixes, however many failures piled up.
 * Each group names its newest example (by sequence number, the latest published).
 */
export function selectFailureGroups(schema: Schema): string {
  const s = schema.quoted;
  return `
with failed as (
  select seq, id, source, deliveries from ${s}.events where status = 'failed' order by seq desc limit $1
), groups as (
  select d.k as destination, coalesce(d.v->>'lastError', '') as error, count(*) as n, max(f.seq) as newest
  from failed f cross join lateral jsonb_each(f.deliveries) as d(k, v)
  where d.v->>'status' = 'failed'
  group by 1, 2
  order by n desc, newest desc
  limit $2
)
select g.destination, g.error, g.n, e.id, e.source, e.created_at, (select count(*) from failed) as scanned
from groups g join ${s}.events e on e.seq = g.newest
order by g.n desc, g.newest desc`;
}

/** Failed deliveries sharing a destination and an error. */
export interface FailureGroup {
  destination: string;
  error: string;
  count: number;
  /** The newest failed event in the group. */
  example: { id: string; source: string; createdAt: Date };
}

/** The groups, most frequent first, and whether the bound cut the failures short; see {@link selectFailureGroups}. */
export async function failureGroups(query: Query, schema: Schema, max: number, groups: number): Promise<{ groups: FailureGroup[]; capped: boolean }> {
  const rows = await query(selectFailureGroups(schema), [max, groups]);
  return {
    groups: rows.map((r) => ({
      destination: String(r.destination),
      error: String(r.error),
      count: Number(r.n),
      example: { id: String(r.id), source: String(r.source), createdAt: new Date(r.created_at as string) },
    })),
    capped: rows.length > 0 && Number(rows[0].scanned) >= max,
  };
}
