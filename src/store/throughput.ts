import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Events published and events failed per minute over the last hour, for the overview's chart. Each half is a range
 * scan of its own partial index (`events_published_at`, `events_failed_at`), so it reads the last hour's rows only,
 * however old and large the table is.
 */
export function selectThroughput(schema: Schema): string {
  const s = schema.quoted;
  return `
with ticks as (
  select published_at as at, true as ok from ${s}.events where published_at >= now() - interval '1 hour'
  union all
  select failed_at, false from ${s}.events where failed_at >= now() - interval '1 hour'
)
select floor(extract(epoch from now() - at) / 60)::integer as minutes_ago,
       count(*) filter (where ok) as published, count(*) filter (where not ok) as failed
from ticks group by 1`;
}

/** One minute of the chart: `minutesAgo` 0 is the current minute, 59 the oldest. */
export interface MinuteCount {
  minutesAgo: number;
  published: number;
  failed: number;
}

/** Sixty minutes, oldest first, zeros included; see {@link selectThroughput}. */
export async function throughput(query: Query, schema: Schema): Promise<MinuteCount[]> {
  const rows = await query(selectThroughput(schema), []);
  const minutes = Array.from({ length: 60 }, (_, i) => ({ minutesAgo: 59 - i, published: 0, failed: 0 }));
  for (const r of rows) {
    const ago = Number(r.minutes_ago);
    if (ago < 0 || ago > 59) continue;
    minutes[59 - ago] = { minutesAgo: ago, published: Number(r.published), failed: Number(r.failed) };
  }
  return minutes;
}
