import type { Query } from "../client.ts";
import { type DbNumber, eventColumns, type EventSummaryRow, SUMMARY_COLUMNS } from "../record.ts";
import type { StoreFilter } from "../filter.ts";
import type { Schema } from "../schema.ts";
import { filterConditions } from "./filter.ts";

/**
 * A page of the dashboard's events list: newest first, keyset-paginated on the sequence number, and searching a
 * window of at most $3 sequence numbers below $1 (the cursor; the newest event when null) per page. The window is
 * what keeps a rare filter (a type nobody published lately) from reading the whole table: the page then says how
 * far it looked and offers to look further. An id filter goes straight to `events_id_source`, with no window.
 * The list leaves out `data` (up to 1 MiB per event); the event page reads it.
 */
export function searchEvents(schema: Schema, filter: StoreFilter): { sql: string; params: unknown[] } {
  const s = schema.quoted;
  const where = filterConditions(filter, 4);
  const windowed = filter.id === null;
  // The lateral join returns the window's top even when nothing matched, so the caller can offer the next window.
  const sql = `
with top as (
  select coalesce($1::bigint, (select max(seq) + 1 from ${s}.events)) as before
)
select top.before as window_top, e.*
from top left join lateral (
  select ${SUMMARY_COLUMNS.map((c) => (c === "last_error" ? "left(e.last_error, 500) as last_error" : eventColumns([c], "e"))).join(", ")}
  from ${s}.events e
  where e.seq < top.before${windowed ? " and e.seq >= top.before - $3::bigint" : " and $3::bigint is not null"}${where.sql.map((c) => `\n    and ${c}`).join("")}
  order by e.seq desc
  limit $2
) e on true`;
  return { sql, params: where.params };
}

/** One page: its rows, and the sequence number the search reached (the next page starts below it). */
export async function search(
  query: Query,
  schema: Schema,
  filter: StoreFilter,
  before: string | null,
  limit: number,
  window: number,
): Promise<{ rows: EventSummaryRow[]; windowTop: string | null }> {
  const { sql, params } = searchEvents(schema, filter);
  const rows = await query(sql, [before, limit, window, ...params]) as (EventSummaryRow & { window_top: DbNumber | null })[];
  const top = rows[0]?.window_top;
  return { rows: rows.filter((r) => r.seq != null), windowTop: top == null ? null : String(top) };
}
