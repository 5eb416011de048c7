import type { Query, Row } from "../client.ts";
import { EVENT_COLUMNS } from "../record.ts";
import type { Schema } from "../schema.ts";

/** One event by id, optionally narrowed by source (ids are unique per source). At most two rows, to spot ambiguity. */
export function selectEvent(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where id = $1 and ($2::text is null or source = $2)
limit 2`;
}

/** Reads an event; see {@link selectEvent}. */
export async function getEvent(query: Query, schema: Schema, id: string, source: string | null): Promise<Row[]> {
  return await query(selectEvent(schema), [id, source]);
}

/**
 * The most event data one page of {@link listEvents} carries, in bytes of the stored JSON text: 4 MiB. A page stops
 * before the event that would pass it (but holds at least one event), and its cursor continues from there.
 */
export const PAGE_DATA_BYTES = 4 * 1024 * 1024;

/** Filters for {@link listEvents}. */
export interface EventFilter {
  status: string | null;
  type: string | null;
  source: string | null;
  /** Only events stored before this sequence number (keyset pagination). */
  before: string | null;
  limit: number;
  /** False to leave `data` out: a summary costs no data budget. */
  data: boolean;
}

/** A page of rows, newest first, and whether rows after the last one may match. */
export interface EventRows {
  rows: Row[];
  more: boolean;
}

/** The columns of a summary: the same, with data left out (null, so the record has none). */
const SUMMARY_COLUMNS = EVENT_COLUMNS.replace("data::text as data", "null::text as data");

/**
 * Newest first, keyset-paginated on the sequence number, so deep pages cost what the first one does. The page is
 * chosen from sequence numbers and data sizes alone, and only its rows are read whole: `limit` rows of 1 MiB each
 * would otherwise be a gigabyte in the database's answer and in the caller's memory. `page_rows` says how many rows
 * matched before the byte budget cut the page.
 */
export function selectEvents(schema: Schema, data: boolean): string {
  return `
with page as (
  select seq, ${data ? "coalesce(octet_length(data::text), 0)" : "0"} as bytes from ${schema.quoted}.events
  where ($1::text is null or status = $1)
    and ($2::text is null or type = $2)
    and ($3::text is null or source = $3)
    and ($4::bigint is null or seq < $4)
  order by seq desc
  limit $5
), sized as (
  select seq, count(*) over () as page_rows, row_number() over w as n, sum(bytes) over w as running
  from page window w as (order by seq desc rows unbounded preceding)
), kept as (
  select seq, page_rows from sized where running <= $6 or n = 1
)
select ${data ? EVENT_COLUMNS : SUMMARY_COLUMNS}, page_rows from ${schema.quoted}.events join kept using (seq)
order by seq desc`;
}

/** Lists events; see {@link selectEvents}. */
export async function listEvents(query: Query, schema: Schema, f: EventFilter): Promise<EventRows> {
  const rows = await query(selectEvents(schema, f.data), [f.status, f.type, f.source, f.before, f.limit, PAGE_DATA_BYTES]);
  const matched = rows.length ? Number(rows[0].page_rows) : 0;
  return { rows, more: matched === f.limit || rows.length < matched };
}
