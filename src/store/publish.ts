import type { Query, Row } from "../client.ts";
import type { NewEvent } from "../event.ts";
import { EVENT_COLUMNS, type EventRecord, newRecord, type PublishedEvent, toRecord } from "../record.ts";
import type { Schema } from "../schema.ts";
import { arrayLiteral } from "./array.ts";

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

/**
 * Many events in one statement: one array literal per column, unnested side by side (cheaper for the server than
 * one JSON document: EXPLAIN ANALYZE of 1,000 events, 45.6 -> 18.8 ms).
 */
export function insertEvents(schema: Schema, notify: boolean): string {
  return withNotify(schema, `
  insert into ${schema.quoted}.events (${COLUMNS})
  select id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions::jsonb, data::jsonb,
         scheduled_at, coalesce(scheduled_at, now()), max_retries, ordering_key
  from unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text::text[], $5::text::text[],
              $6::text::text[], $7::text::text[], $8::text::text[], $9::text::text[], $10::text::text[],
              $11::text::timestamptz[], $12::text::integer[], $13::text::text[])
    as x(id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions, data,
         scheduled_at, max_retries, ordering_key)`, notify);
}

/** Reads back events that were already stored (idempotent publish), by (source, id). */
export function selectExisting(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where (id, source) in (select * from unnest($1::text::text[], $2::text::text[]))`;
}

/**
 * Stores events and returns them in input order, each marked `duplicate` when its source + id was already stored
 * (then it is the stored event, not the input).
 */
export async function publish(query: Query, schema: Schema, events: NewEvent[], notify: boolean): Promise<PublishedEvent[]> {
  const rows = events.length === 1
    ? await query(insertEvent(schema, notify), params(events[0]))
    : await query(insertEvents(schema, notify), columns(events));
  const inserted = new Map<string, Row>();
  for (const row of rows) inserted.set(key(row.source, row.id), row);
  // Records by source + id: those already stored (read back), and each new one once made.
  const stored = new Map<string, EventRecord>();
  if (inserted.size < events.length) {
    const missing = events.filter((e) => !inserted.has(key(e.source, e.id)));
    if (missing.length) {
      const found = await query(selectExisting(schema), [arrayLiteral(missing.map((e) => e.id)), arrayLiteral(missing.map((e) => e.source))]);
      for (const row of found) stored.set(key(row.source, row.id), toRecord(row));
    }
  }
  // The same source + id twice in one batch: the first is new, the second a duplicate of it.
  return events.map((e) => {
    const k = key(e.source, e.id);
    const row = inserted.get(k);
    if (row && !stored.has(k)) {
      const fresh = newRecord(e, row);
      stored.set(k, fresh);
      return fresh;
    }
    return { ...stored.get(k)!, duplicate: true };
  });
}

function key(source: unknown, id: unknown): string {
  return `${source}\u0000${id}`;
}

function params(e: NewEvent): unknown[] {
  return [
    e.id, e.source, e.type, e.specversion, e.subject, e.time, e.datacontenttype, e.dataschema,
    e.extensions === null ? null : JSON.stringify(e.extensions), e.data, e.scheduled_at, e.max_retries, e.ordering_key,
  ];
}

/** The batch as one array literal per column, in COLUMNS order (next_attempt_at is computed in SQL). */
function columns(events: NewEvent[]): string[] {
  const n = events.length;
  const cols: Array<Array<string | number | null>> = Array.from({ length: 13 }, () => new Array(n));
  for (let i = 0; i < n; i++) {
    const e = events[i];
    cols[0][i] = e.id;
    cols[1][i] = e.source;
    cols[2][i] = e.type;
    cols[3][i] = e.specversion;
    cols[4][i] = e.subject;
    cols[5][i] = e.time;
    cols[6][i] = e.datacontenttype;
    cols[7][i] = e.dataschema;
    cols[8][i] = e.extensions === null ? null : JSON.stringify(e.extensions);
    cols[9][i] = e.data;
    cols[10][i] = e.scheduled_at;
    cols[11][i] = e.max_retries;
    cols[12][i] = e.ordering_key;
  }
  return cols.map(arrayLiteral);
}
