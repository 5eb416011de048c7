import { SPECVERSION } from "../attributes.ts";
import type { Query, Row } from "../client.ts";
import type { NewEvent } from "../event.ts";
import { date, type DbTime, EVENT_COLUMNS, type EventRecord, newRecord, type PublishedEvent, toRecord } from "../record.ts";
import type { Schema } from "../schema.ts";
import { arrayLiteral } from "./array.ts";

/** One column the publish statements write: its name, its SQL type, and how an event supplies its value. */
export interface Column {
  name: string;
  type: "text" | "jsonb" | "timestamptz" | "integer";
  value(e: NewEvent): string | number | null;
  /**
   * The table's default, when it is what most events carry: a call whose every event has it leaves the column out,
   * so the common event travels as 6 parameters, not 13 (and a batch as 6 arrays, not 13 mostly of NULLs).
   */
  fallback?: string | null;
}

/**
 * The columns publish writes, in one place: the column list, the parameters of the single insert, the arrays of the
 * batch insert and the select list over them are all generated from it. `next_attempt_at` is computed in SQL from
 * `scheduled_at`; everything else takes the table's defaults.
 */
const COLUMNS: readonly Column[] = [
  { name: "id", type: "text", value: (e) => e.id },
  { name: "source", type: "text", value: (e) => e.source },
  { name: "type", type: "text", value: (e) => e.type },
  { name: "specversion", type: "text", value: (e) => e.specversion, fallback: SPECVERSION },
  { name: "subject", type: "text", value: (e) => e.subject, fallback: null },
  { name: "time", type: "text", value: (e) => e.time },
  { name: "datacontenttype", type: "text", value: (e) => e.datacontenttype },
  { name: "dataschema", type: "text", value: (e) => e.dataschema, fallback: null },
  { name: "extensions", type: "jsonb", value: (e) => (e.extensions === null ? null : JSON.stringify(e.extensions)), fallback: null },
  { name: "data", type: "jsonb", value: (e) => e.data, fallback: null },
  { name: "scheduled_at", type: "timestamptz", value: (e) => e.scheduled_at, fallback: null },
  { name: "max_retries", type: "integer", value: (e) => e.max_retries, fallback: null },
  { name: "ordering_key", type: "text", value: (e) => e.ordering_key, fallback: null },
];

/** The columns a call may leave out, and the written columns for each combination of them (by bit mask). */
const OPTIONAL = COLUMNS.filter((c) => c.fallback !== undefined);
const SHAPES: Array<readonly Column[] | undefined> = [];

/**
 * The columns a call writes: every column, less those all of its events leave at the table's default. The same array
 * for the same columns, so that it can key the statements built for it.
 */
export function columnsOf(events: readonly NewEvent[]): readonly Column[] {
  let mask = 0;
  for (let b = 0; b < OPTIONAL.length; b++) {
    const c = OPTIONAL[b];
    for (let i = 0; i < events.length; i++) {
      if (c.value(events[i]) !== c.fallback) {
        mask |= 1 << b;
        break;
      }
    }
  }
  return SHAPES[mask] ??= COLUMNS.filter((c) => c.fallback === undefined || mask & (1 << OPTIONAL.indexOf(c)));
}

/** The pieces of SQL that one set of written columns gives each statement. */
interface Parts {
  /** The insert's column list. */
  names: string;
  /** The single insert's values, one parameter per column (text as it is, the rest cast from text). */
  values: string[];
  /** The batch insert's arrays, one per column, as `unnest` takes them. */
  arrays: string;
  /** The names the unnested arrays take. */
  unnested: string;
  /** The select list over them. */
  selected: string[];
  /** `next_attempt_at` of the single insert: the scheduled time, or now when the call schedules nothing. */
  due: string;
  /** `next_attempt_at` in the batch's select list. */
  dueBatch: string;
  /** The parameter that holds the ordering key (single), when the columns include it. */
  key: string;
}

function parts(columns: readonly Column[]): Parts {
  const at = columns.findIndex((c) => c.name === "scheduled_at");
  const scheduled = at < 0 ? null : `$${at + 1}::text::timestamptz`;
  // Every value travels as text and is cast in SQL (jsonb from its text, so clients need not agree on JSON).
  return {
    names: [...columns.map((c) => c.name), "next_attempt_at"].join(", "),
    values: columns.map((c, i) => (c.type === "text" ? `$${i + 1}` : `$${i + 1}::text::${c.type}`)),
    arrays: columns.map((c, i) => `$${i + 1}::text::${c.type === "jsonb" ? "text" : c.type}[]`).join(", "),
    unnested: columns.map((c) => c.name).join(", "),
    selected: columns.map((c) => (c.type === "jsonb" ? `${c.name}::jsonb` : c.name)),
    due: scheduled === null ? "now()" : `coalesce(${scheduled}, now())`,
    dueBatch: at < 0 ? "now()" : "coalesce(scheduled_at, now())",
    key: `$${columns.findIndex((c) => c.name === "ordering_key") + 1}::text`,
  };
}

/**
 * Statements by the columns written, then by schema, kind and NOTIFY: each built once. The same text each time is
 * what lets the driver prepare it once per connection; few shapes occur (most events set no optional attribute).
 */
const STATEMENTS = new Map<readonly Column[], Map<string, string>>();

function statement(
  schema: Schema,
  kind: string,
  notify: boolean,
  conflict: Conflict,
  columns: readonly Column[],
  build: (p: Parts) => string,
): string {
  let built = STATEMENTS.get(columns);
  if (built === undefined) STATEMENTS.set(columns, built = new Map());
  const key = `${schema.quoted} ${kind} ${notify} ${conflict}`;
  let text = built.get(key);
  if (text === undefined) built.set(key, text = build(parts(columns)));
  return text;
}

/**
 * How an insert meets an event already stored (the same source + id). `skip`: `ON CONFLICT (id, source) DO NOTHING`,
 * which stores the rest and never fails on a repeat: inside a caller's transaction, where a failed statement would
 * abort the caller's work. `fail`: a plain insert, for a publish that is its own transaction; PostgreSQL then skips
 * the speculative insertion (a probe of the (id, source) index before each row, and its confirmation after), ~20%
 * of a 1,000-event batch's server time, and a repeat fails the statement with a unique violation, rolled back whole,
 * after which {@link publish} sends the `skip` form. Repeats are rare (a producer retrying after a lost answer), so
 * they pay a second statement while every other publish pays less.
 */
export type Conflict = "skip" | "fail";

function onConflict(conflict: Conflict): string {
  return conflict === "skip" ? " on conflict (id, source) do nothing" : "";
}

/**
 * Appends one NOTIFY on the schema's channel (empty payload) to an insert, in the same statement. PostgreSQL folds
 * identical notifications within a transaction, so a transaction that publishes many times still sends one; an
 * insert that stored nothing notifies nobody.
 *
 * Only what the caller cannot know comes back, as one row: how many events were new and `created_at` (the
 * transaction's `now()`, the column's default, the same for every row of the statement). Only when some were
 * already stored does it list which were new, so that a batch of 1,000 new events returns one row, not 1,000; the
 * list is a sub-select in a `case`, so it is not even aggregated otherwise (server CPU of 1,000 new events:
 * aggregating it always cost ~5% of the statement). `$n` is the batch's size.
 */
function withNotify(schema: Schema, insert: string, notify: boolean, conflict: Conflict, n: string): string {
  return `
with inserted as (${insert}${onConflict(conflict)} returning id, source),
counted as (select count(*)::int as count from inserted)
select count, now() as created_at,
       case when count < ${n} then (select json_build_array(array_agg(id), array_agg(source)) from inserted)::text end as keys
       ${notify ? `, (select pg_notify('${schema.channel}', '') from inserted limit 1) is null as notified` : ""}
from counted`;
}

/**
 * Wraps a one-event insert: NOTIFY as in {@link withNotify}, and only `created_at` comes back (no row when the event
 * was already stored).
 */
function single(schema: Schema, insert: string, notify: boolean, conflict: Conflict): string {
  return `
with inserted as (${insert}${onConflict(conflict)} returning created_at)
select created_at${notify ? `, (select pg_notify('${schema.channel}', '')) is null as notified` : ""} from inserted`;
}

/** One event, as plain parameters (one per column written): the common case, and the cheapest statement for it. */
export function insertEvent(schema: Schema, notify: boolean, columns: readonly Column[] = COLUMNS, conflict: Conflict = "skip"): string {
  return statement(schema, "one", notify, conflict, columns, (p) => single(schema, `
  insert into ${schema.quoted}.events (${p.names})
  values (${p.values.join(", ")}, ${p.due})`, notify, conflict));
}

/**
 * Whether a new event with ordering key `key` must wait parked: the key already has a parked event, or an unfinished
 * one that no worker holds (due later, retrying, scheduled). Behind an event a worker holds right now the new one is
 * stored due instead: that event is about to finish, and its finish cannot see an event whose transaction has not
 * committed, so parking here would often lose the release. The finish parks it after all when the held event must
 * retry (see complete.ts). Served by the events_ordering index: the scan stops at the first match, a few rows in.
 * The statements below compute it once per event (`offset 0` keeps the planner from copying it into both places
 * that read it).
 */
function waits(s: string, key: string): string {
  return `exists (select 1 from ${s}.events p
    where p.ordering_key = ${key} and (p.next_attempt_at is not null or p.parked) and (p.parked or p.lease is null))`;
}

/** One event with an ordering key: {@link insertEvent}, parked when it must wait (see `waits`). */
export function insertKeyedEvent(schema: Schema, notify: boolean, columns: readonly Column[] = COLUMNS, conflict: Conflict = "skip"): string {
  return statement(schema, "one keyed", notify, conflict, columns, (p) => single(schema, `
  insert into ${schema.quoted}.events (${p.names}, parked)
  select ${p.values.join(", ")}, case when w.parked then null else ${p.due} end, w.parked
  from (select ${waits(schema.quoted, p.key)} as parked offset 0) w`, notify, conflict));
}

/**
 * Many events in one statement: one array literal per column, unnested side by side (cheaper for the server than
 * one JSON document; bench/RESULTS.md, "Statement plans quoted by the code", has the plans' timings).
 */
export function insertEvents(schema: Schema, notify: boolean, columns: readonly Column[] = COLUMNS, conflict: Conflict = "skip"): string {
  return statement(schema, "many", notify, conflict, columns, (p) => withNotify(schema, `
  insert into ${schema.quoted}.events (${p.names})
  select ${p.selected.join(", ")}, ${p.dueBatch}
  from unnest(${p.arrays})
    as x(${p.unnested})`, notify, conflict, `$${columns.length + 1}`));
}

/**
 * {@link insertEvents} for a batch with ordering keys. The parameter after the columns says, per event, whether an earlier event in the batch has
 * the same key (the statement cannot see its own rows): such an event waits parked, as does one whose key `waits`.
 * (When that earlier event turns out to be a duplicate of one already finished, the later one is parked with nothing
 * ahead of it; the worker's repair step releases it.)
 */
export function insertKeyedEvents(schema: Schema, notify: boolean, columns: readonly Column[] = COLUMNS, conflict: Conflict = "skip"): string {
  const n = columns.length;
  return statement(schema, "many keyed", notify, conflict, columns, (p) => withNotify(schema, `
  insert into ${schema.quoted}.events (${p.names}, parked)
  select ${p.selected.join(", ")}, case when w.parked then null else ${p.dueBatch} end, w.parked
  from unnest(${p.arrays}, $${n + 1}::text::boolean[])
    as x(${p.unnested}, follows)
  cross join lateral (select case when x.ordering_key is null then false when x.follows then true
                                  else ${waits(schema.quoted, "x.ordering_key")} end as parked offset 0) w`, notify, conflict, `$${n + 2}`));
}

/** Reads back events that were already stored (idempotent publish), by (source, id). */
export function selectExisting(schema: Schema): string {
  return `
select ${EVENT_COLUMNS} from ${schema.quoted}.events
where (id, source) in (select * from unnest($1::text::text[], $2::text::text[]))`;
}

/**
 * Stores events and returns them in input order, each marked `duplicate` when its source + id was already stored
 * (then it is the stored event, not the input). `own`: the statement is a transaction of its own (no caller's
 * transaction around it), so it may try the plain insert first (see {@link Conflict}).
 */
export async function publish(query: Query, schema: Schema, events: NewEvent[], notify: boolean, own = false): Promise<PublishedEvent[]> {
  // Events without an ordering key take the statements that never look at other rows.
  let created: Row | undefined;
  let inserted: Set<string> | null = null;
  const written = columnsOf(events);
  if (events.length === 1) {
    const e = events[0];
    const insert = e.ordering_key === null ? insertEvent : insertKeyedEvent;
    const params = written.map((c) => c.value(e));
    [created] = await insertOnce(query, (conflict) => insert(schema, notify, written, conflict), params, own);
    if (!created) inserted = new Set();
  } else {
    const follows = followers(events);
    const values = written.map((c) => arrayLiteral(events.map(c.value)));
    if (follows !== null) values.push(arrayLiteral(follows.map((f) => (f ? "t" : "f"))));
    values.push(String(events.length));
    const insert = follows === null ? insertEvents : insertKeyedEvents;
    [created] = await insertOnce(query, (conflict) => insert(schema, notify, written, conflict), values, own);
    if (created.keys != null) {
      // Some were stored already (or repeated in the batch): the statement said which were new.
      const [ids, sources] = JSON.parse(created.keys as string) as [string[] | null, string[] | null];
      inserted = new Set((ids ?? []).map((id, i) => key(sources![i], id)));
    }
  }
  // One created_at for the statement, but a Date of its own per record: a caller may change one.
  const at = created ? date(created.created_at as DbTime)!.getTime() : 0;
  const fresh = (e: NewEvent): PublishedEvent => newRecord(e, { created_at: new Date(at) });
  if (inserted === null) return events.map(fresh);
  // Records by source + id: those already stored (read back), and each new one once made.
  const stored = new Map<string, EventRecord>();
  const missing = events.filter((e) => !inserted.has(key(e.source, e.id)));
  if (missing.length) {
    const found = await query(selectExisting(schema), [arrayLiteral(missing.map((e) => e.id)), arrayLiteral(missing.map((e) => e.source))]);
    for (const row of found) stored.set(key(row.source, row.id), toRecord(row));
  }
  // The same source + id twice in one batch: the first is new, the second a duplicate of it.
  return events.map((e) => {
    const k = key(e.source, e.id);
    if (inserted.has(k) && !stored.has(k)) {
      const record = fresh(e);
      stored.set(k, record);
      return record;
    }
    return { ...stored.get(k)!, duplicate: true };
  });
}

/**
 * Runs an insert statement: in its own transaction the plain form first, and the `skip` form when that met a stored
 * event (a unique violation of `events_id_source`; the failed statement changed nothing); else the `skip` form.
 */
async function insertOnce(query: Query, text: (conflict: Conflict) => string, params: unknown[], own: boolean): Promise<Row[]> {
  if (!own) return await query(text("skip"), params);
  try {
    return await query(text("fail"), params);
  } catch (err) {
    if (!isRepeat(err)) throw err;
    return await query(text("skip"), params);
  }
}

/**
 * A unique violation of the (id, source) index: an event already stored (or repeated within the batch). The plain
 * form runs only on the Outbox's own postgres.js pool, so the error is postgres.js's.
 */
function isRepeat(err: unknown): boolean {
  const e = err as { code?: unknown; constraint_name?: unknown } | null;
  return e?.code === "23505" && e.constraint_name === "events_id_source";
}

/** Per event, whether an earlier event in the batch has its ordering key; null when no event has a key. */
function followers(events: NewEvent[]): boolean[] | null {
  let seen: Set<string> | null = null;
  const follows = new Array<boolean>(events.length);
  for (let i = 0; i < events.length; i++) {
    const k = events[i].ordering_key;
    if (k === null) {
      follows[i] = false;
      continue;
    }
    seen ??= new Set();
    follows[i] = seen.has(k);
    seen.add(k);
  }
  return seen === null ? null : follows;
}

function key(source: unknown, id: unknown): string {
  return `${source}\u0000${id}`;
}
