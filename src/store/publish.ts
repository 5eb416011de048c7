import type { Query, Row } from "../client.ts";
import type { NewEvent } from "../event.ts";
import { EVENT_COLUMNS } from "../record.ts";
import type { Schema } from "../schema.ts";
import { pgArray } from "./array.ts";

/**
 * Inserts events in one statement (however many) and, in the same statement, queues one NOTIFY on the schema's
 * channel with an empty payload. PostgreSQL folds identical notifications within a transaction, so a transaction
 * that publishes many times still sends one. Conflicting (source, id) pairs insert nothing.
 *
 * The batch arrives as one array per column ({@link pgArray}) unpacked by `unnest`: the JSON text and
 * json_to_recordset it replaces cost 2.4x the server time (EXPLAIN ANALYZE, 1,000 events: median 45.6 ms -> 18.8 ms).
 */
export function insertEvents(schema: Schema, notify: boolean): string {
  const s = schema.quoted;
  return `
with inserted as (
  insert into ${s}.events (id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data,
                           scheduled_at, next_attempt_at, max_retries, ordering_key)
  select id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions::jsonb, data::jsonb,
         scheduled_at, coalesce(scheduled_at, now()), max_retries, ordering_key
  from unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text::text[], $5::text::text[],
              $6::text::text[], $7::text::text[], $8::text::text[], $9::text::text[], $10::text::text[],
              $11::text::timestamptz[], $12::text::integer[], $13::text::text[])
    as x(id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data, scheduled_at,
         max_retries, ordering_key)
  on conflict (id, source) do nothing
  returning ${EVENT_COLUMNS}
)
select *${notify ? `, (select pg_notify('${schema.channel}', '')) is null as notified` : ""} from inserted`;
}

/** Reads back events that were already stored (idempotent publish), by (source, id). */
export function selectExisting(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where (id, source) in (select * from unnest($1::text[], $2::text[]))`;
}

/**
 * Stores events, returning one row per input in input order: the new row, or (`duplicate: true`) the one already
 * stored under that source + id.
 */
export async function publish(query: Query, schema: Schema, events: NewEvent[], notify: boolean): Promise<Row[]> {
  const rows = await query(insertEvents(schema, notify), columns(events));
  if (rows.length === events.length) return order(events, rows);
  const missing = events.filter((e) => !rows.some((r) => r.id === e.id && r.source === e.source));
  const existing = await query(selectExisting(schema), [missing.map((e) => e.id), missing.map((e) => e.source)]);
  for (const row of existing) row.duplicate = true;
  return order(events, rows.concat(existing));
}

function order(events: NewEvent[], rows: Row[]): Row[] {
  if (events.length === 1) return rows;
  const byKey = new Map(rows.map((r) => [`${r.source}\u0000${r.id}`, r]));
  return events.map((e) => byKey.get(`${e.source}\u0000${e.id}`)!);
}

/** The batch as one array literal per column, in the order of {@link insertEvents}' parameters. */
function columns(events: NewEvent[]): string[] {
  const column = (pick: (e: NewEvent) => string | number | null): string => pgArray(events.map(pick));
  return [
    column((e) => e.id),
    column((e) => e.source),
    column((e) => e.type),
    column((e) => e.specversion),
    column((e) => e.subject),
    column((e) => e.time),
    column((e) => e.datacontenttype),
    column((e) => e.dataschema),
    column((e) => (e.extensions === null ? null : JSON.stringify(e.extensions))),
    column((e) => e.data),
    column((e) => e.scheduled_at),
    column((e) => e.max_retries),
    column((e) => e.ordering_key),
  ];
}
