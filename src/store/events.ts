import type { Query } from "../client.ts";
import { type DbNumber, EVENT_COLUMN_NAMES, EVENT_COLUMNS, eventColumns, type EventRow } from "../record.ts";
import type { Schema } from "../schema.ts";

/** One event by id, optionally narrowed by source (ids are unique per source). At most two rows, to spot ambiguity. */
export function selectEvent(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where id = $1 and ($2::text is null or source = $2)
limit 2`;
}

/** Reads an event; see {@link selectEvent}. */
export async function getEvent(query: Query, schema: Schema, id: string, source: string | null): Promise<EventRow[]> {
  return await query(selectEvent(schema), [id, source]) as EventRow[];
}

/**
 * The most event data one page of {@link listEvents} carries, in bytes of the stored JSON text: 4 MiB. A page stops
 * before the event that would pass it (but holds at least one event), and its cursor continues from there.
 */
export const PAGE_DATA_BYTES = 4 * 1024 * 1024;

/** How many events one page of {@link listEvents} holds when the caller does not say, and at most. */
export const PAGE_LIMIT: Readonly<{ default: number; max: number }> = Object.freeze({ default: 100, max: 1000 });

/** Filters for {@link listEvents}. */
export interface EventFilter {
  status: string | null;
  type: string | null;
  /** Only types that start with this. */
  typePrefix: string | null;
  source: string | null;
  /** Only events stored before this sequence number (keyset pagination). */
  before: string | null;
  limit: number;
  /** False to leave `data` out: a summary costs no data budget. */
  data: boolean;
}

/** A page of rows, newest first, and whether rows after the last one may match. */
export interface EventRows {
  rows: EventRow[];
  more: boolean;
}

/** The columns of a summary: the same, with data left out (null, so the record has none). */
const SUMMARY_COLUMNS = `${eventColumns(EVENT_COLUMN_NAMES.filter((c) => c !== "data"))}, null::text as data`;

/**
 * Newest first, keyset-paginated on the sequence number, so deep pages cost what the first one does.
 *
 * With data, the page's sequence numbers are found first (no data read), then walked in order, adding up the size
 * of each event's data by primary key, and the walk stops at the first event past the byte budget: `limit` events of
 * 1 MiB each would otherwise be a gigabyte in the database's answer and in the caller's memory, and measuring all of
 * them first would cost the database nearly as much. `matched` says how many events matched before the budget cut
 * the page. Without data, the plain keyset scan.
 */
export function selectEvents(schema: Schema, data: boolean): string {
  const events = `${schema.quoted}.events`;
  const matching = `select seq from ${events}
  where ($1::text is null or status = $1)
    and ($2::text is null or type = $2)
    and ($3::text is null or source = $3)
    and ($4::bigint is null or seq < $4)
    and ($6::text is null or starts_with(type, $6))
  order by seq desc
  limit $5`;
  if (!data) return `select ${SUMMARY_COLUMNS} from ${events} where seq in (${matching}) order by seq desc`;
  const size = (seq: string) => `(select coalesce(octet_length(data::text), 0) from ${events} where seq = ${seq})`;
  return `
with recursive page as (
  select array_agg(seq order by seq desc) as seqs from (${matching}) m
), walk as (
  select 1 as n, seqs[1] as seq, ${size("seqs[1]")} as running from page where seqs is not null
  union all
  select walk.n + 1, seqs[walk.n + 1], walk.running + ${size("seqs[walk.n + 1]")}
  from walk, page
  where walk.n < cardinality(seqs) and (walk.running <= $7 or walk.n = 1)
)
select ${EVENT_COLUMNS}, (select cardinality(seqs) from page) as matched
from ${events} join walk using (seq)
where walk.running <= $7 or walk.n = 1
order by seq desc`;
}

/** Lists events; see {@link selectEvents}. */
export async function listEvents(query: Query, schema: Schema, f: EventFilter): Promise<EventRows> {
  const params = [f.status, f.type, f.source, f.before, f.limit, f.typePrefix];
  const rows = await query(selectEvents(schema, f.data), f.data ? [...params, PAGE_DATA_BYTES] : params) as (EventRow & { matched?: DbNumber })[];
  const matched = f.data && rows.length ? Number(rows[0].matched) : rows.length;
  return { rows, more: matched === f.limit || rows.length < matched };
}
