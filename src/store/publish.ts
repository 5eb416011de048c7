import type { Query, Row } from "../client.ts";
import type { NewEvent } from "../event.ts";
import { EVENT_COLUMNS } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * Inserts events in one statement (however many) and, in the same statement, queues one NOTIFY on the schema's
 * channel with an empty payload. PostgreSQL folds identical notifications within a transaction, so a transaction
 * that publishes many times still sends one. Conflicting (source, id) pairs insert nothing.
 */
export function insertEvents(schema: Schema, notify: boolean): string {
  const s = schema.quoted;
  return `
with input as (
  select * from json_to_recordset($1::text::json) as x(
    id text, source text, type text, specversion text, subject text, time text, datacontenttype text,
    dataschema text, extensions jsonb, data jsonb, scheduled_at timestamptz, max_retries integer, ordering_key text)
), inserted as (
  insert into ${s}.events (id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data,
                           scheduled_at, next_attempt_at, max_retries, ordering_key)
  select id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data,
         scheduled_at, coalesce(scheduled_at, now()), max_retries, ordering_key
  from input
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
  const rows = await query(insertEvents(schema, notify), [serialise(events)]);
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

/** One JSON text for the whole batch; the data is embedded as-is, it was serialised once already. */
function serialise(events: NewEvent[]): string {
  let out = "[";
  for (let i = 0; i < events.length; i++) {
    const { data, ...rest } = events[i];
    const head = JSON.stringify(rest);
    out += (i ? "," : "") + (data === null ? head : `${head.slice(0, -1)},"data":${data}}`);
  }
  return out + "]";
}
