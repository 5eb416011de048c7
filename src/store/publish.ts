import type { Query } from "../client.ts";
import type { NewEvent } from "../event.ts";
import { EVENT_COLUMNS, type EventRecord, newRecord, type PublishedEvent, toRecord } from "../record.ts";
import type { Schema } from "../schema.ts";

const COLUMNS = "id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data, scheduled_at, next_attempt_at, max_retries, ordering_key";

/**
 * Appends one NOTIFY on the schema's channel (empty payload) to an insert, in the same statement. PostgreSQL folds
 * identical notifications within a transaction, so a transaction that publishes many times still sends one; an
 * insert that stored nothing notifies nobody. Only what the database made up comes back: the caller has the rest.
 */
function withNotify(schema: Schema, insert: string, notify: boolean): string {
  return `
with inserted as (${insert} on conflict (id, source) do nothing returning seq, id, source, created_at)
select *${notify ? `, (select pg_notify('${schema.channel}', '')) is null as notified` : ""} from inserted`;
}

/** One event, as plain parameters: the common case, and the cheapest statement for it. */
export function insertEvent(schema: Schema, notify: boolean): string {
  return withNotify(schema, `
  insert into ${schema.quoted}.events (${COLUMNS})
  values ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10::text::jsonb, $11::timestamptz,
          coalesce($11::timestamptz, now()), $12::integer, $13)`, notify);
}

/** Many events in one statement, as one JSON text (one parameter however many events). */
export function insertEvents(schema: Schema, notify: boolean): string {
  return withNotify(schema, `
  insert into ${schema.quoted}.events (${COLUMNS})
  select id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data,
         scheduled_at, coalesce(scheduled_at, now()), max_retries, ordering_key
  from json_to_recordset($1::text::json) as x(
    id text, source text, type text, specversion text, subject text, time text, datacontenttype text,
    dataschema text, extensions jsonb, data jsonb, scheduled_at timestamptz, max_retries integer, ordering_key text)`, notify);
}

/** Reads back events that were already stored (idempotent publish), by (source, id). */
export function selectExisting(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where (id, source) in (select * from unnest($1::text[], $2::text[]))`;
}

/**
 * Stores events and returns them in input order, each marked `duplicate` when its source + id was already stored
 * (then it is the stored event, not the input).
 */
export async function publish(query: Query, schema: Schema, events: NewEvent[], notify: boolean): Promise<PublishedEvent[]> {
  const rows = events.length === 1
    ? await query(insertEvent(schema, notify), params(events[0]))
    : await query(insertEvents(schema, notify), [serialise(events)]);
  const key = (source: unknown, id: unknown) => `${source}\u0000${id}`;
  const first = new Map<string, NewEvent>();
  for (const e of events) if (!first.has(key(e.source, e.id))) first.set(key(e.source, e.id), e);
  const inserted = new Map<string, EventRecord>();
  for (const row of rows) {
    const k = key(row.source, row.id);
    inserted.set(k, newRecord(first.get(k)!, row));
  }
  const missing = events.filter((e) => !inserted.has(key(e.source, e.id)));
  const existing = new Map<string, EventRecord>();
  if (missing.length) {
    for (const row of await query(selectExisting(schema), [missing.map((e) => e.id), missing.map((e) => e.source)])) {
      existing.set(key(row.source, row.id), toRecord(row));
    }
  }
  // The same source + id twice in one batch: the first is new, the second a duplicate of it.
  const seen = new Set<string>();
  return events.map((e) => {
    const k = key(e.source, e.id);
    const fresh = inserted.get(k);
    if (fresh && !seen.has(k)) {
      seen.add(k);
      return { ...fresh, duplicate: false };
    }
    return { ...(existing.get(k) ?? fresh!), duplicate: true };
  });
}

function params(e: NewEvent): unknown[] {
  return [
    e.id, e.source, e.type, e.specversion, e.subject, e.time, e.datacontenttype, e.dataschema,
    e.extensions === null ? null : JSON.stringify(e.extensions), e.data, e.scheduled_at, e.max_retries, e.ordering_key,
  ];
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
