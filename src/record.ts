import type { Row } from "./client.ts";
import type { ExtensionValue, NewEvent } from "./event.ts";

/**
 * An event's statuses, in Django Dispatch's words: what filters accept, and what the router's OpenAPI document lists.
 *
 * @example
 * ```ts
 * EVENT_STATUSES.includes(value as EventStatus);
 * ```
 */
export const EVENT_STATUSES = ["pending", "processing", "published", "failed"] as const;
/** An event's status, in Django Dispatch's words. */
export type EventStatus = (typeof EVENT_STATUSES)[number];
/** The statuses of a finished event: the only ones a replay takes. */
export const FINISHED_STATUSES = ["published", "failed"] as const satisfies readonly EventStatus[];
/** The states of one event at one destination. */
export const DELIVERY_STATUSES = ["pending", "processing", "delivered", "failed"] as const;
/** The state of one event at one destination. */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event's progress at one destination. */
export interface DeliveryRecord {
  name: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/**
 * Why an event has no deliveries, in words for people: no worker has taken it yet, a worker's first attempts are in
 * flight, or the worker that took it had no destination registered for its type and marked it published without
 * sending it anywhere (a misspelt type, a registration missing from the worker).
 *
 * @example
 * ```ts
 * const why = event.deliveries.length === 0 ? noDeliveries(event.status) : null; // shown beside the event
 * ```
 */
export function noDeliveries(status: EventStatus): string {
  if (status === "published") {
    return "No deliveries: the worker that took this event had no destination registered for its type, so it was marked published without being sent anywhere.";
  }
  // A worker records an event's deliveries when its attempts end, not when it claims the event.
  return status === "processing" ? "A worker is attempting this event now; its deliveries show when the attempts end." : "No worker has attempted this event yet.";
}

/** What an attempt at a destination can lead to: delivered, another attempt scheduled, or failed for good. */
export const ATTEMPT_OUTCOMES = ["delivered", "retry", "failed"] as const;
/** What one attempt at one destination led to. */
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt at one destination, from the attempt history (`getEvent(id, { history: true })`). */
export interface AttemptRecord {
  destination: string;
  /** 1 for the first attempt at this destination. */
  attempt: number;
  startedAt: Date;
  durationMs: number;
  outcome: AttemptOutcome;
  /** The destination's status code, when it has one (a webhook's HTTP status). */
  status?: number;
  /** Why the attempt failed, as the delivery's lastError held it. */
  error?: string;
}

/** A stored event with its status and per-destination deliveries, as `getEvent` returns it. */
export interface EventRecord {
  id: string;
  type: string;
  source: string;
  specversion: string;
  subject: string | null;
  time: string | null;
  datacontenttype: string | null;
  dataschema: string | null;
  extensions: Record<string, ExtensionValue>;
  data: unknown;
  status: EventStatus;
  attempts: number;
  maxRetries: number | null;
  lastError: string | null;
  orderingKey: string | null;
  scheduledAt: Date | null;
  createdAt: Date;
  publishedAt: Date | null;
  deliveries: DeliveryRecord[];
  /** Every attempt, oldest first; only with `getEvent(id, { history: true })`. */
  history?: AttemptRecord[];
}

/** What the publish calls return: the stored event, and whether it was there already (an idempotent repeat). */
export interface PublishedEvent extends EventRecord {
  /** True when an event with this source + id was already stored: nothing new was written. */
  duplicate: boolean;
}

/** A delivery's state as stored in the `deliveries` column (times in epoch milliseconds). */
export interface StoredDelivery {
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  deliveredAt: number | null;
  /** Attempts made before a retry by hand started a fresh budget (`retryEvent`); absent until then. */
  budgetFrom?: number;
  /** Set by a replay (`replayEvents`) until the delivery finishes: only deliveries with state are attempted meanwhile. */
  replay?: true;
}

/** One attempt as the worker hands it to the store (times in epoch milliseconds, on the database's clock). */
export interface NewAttempt {
  destination: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  outcome: AttemptOutcome;
  status: number | null;
  error: string | null;
}

/**
 * A bigint or numeric value as a client returns it: postgres.js and node-postgres give text (a bigint may pass 2^53),
 * other clients a number or a bigint. Read it with `String()` or `Number()`.
 */
export type DbNumber = string | number | bigint;
/** A timestamptz as a client returns it: postgres.js and node-postgres give Dates, others text (see {@link date}). */
export type DbTime = Date | string;

/** One column of a read: the SQL that yields it, and (as a phantom) the type a client returns for it. */
interface Column<T> {
  sql: string;
  /** Never set: carries the column's type for {@link RowOf}. */
  readonly type?: T;
}
function column<T>(sql: string): Column<T> {
  return { sql };
}
/** The row type a column description yields. */
type RowOf<D extends Record<string, Column<unknown>>> = { [K in keyof D]: D[K] extends Column<infer T> ? T : never };

/**
 * The columns every read of an event returns, keyed by the name the row carries: the one description that both
 * {@link EVENT_COLUMNS} (the select list) and {@link EventRow} (its type) come from, so they cannot drift apart.
 * JSON columns are read as text, because clients differ in whether and how they parse jsonb.
 */
const EVENT_ROW = {
  seq: column<DbNumber>("seq"),
  id: column<string>("id"),
  source: column<string>("source"),
  type: column<string>("type"),
  specversion: column<string>("specversion"),
  subject: column<string | null>("subject"),
  time: column<string | null>("time"),
  datacontenttype: column<string | null>("datacontenttype"),
  dataschema: column<string | null>("dataschema"),
  extensions: column<string | null>("extensions::text"),
  data: column<string | null>("data::text"),
  status: column<EventStatus>("status"),
  attempts: column<number>("attempts"),
  max_retries: column<number | null>("max_retries"),
  last_error: column<string | null>("last_error"),
  ordering_key: column<string | null>("ordering_key"),
  deliveries: column<string | null>("deliveries::text"),
  scheduled_at: column<DbTime | null>("scheduled_at"),
  next_attempt_at: column<DbTime | null>("next_attempt_at"),
  created_at: column<DbTime>("created_at"),
  published_at: column<DbTime | null>("published_at"),
};

/** The names of {@link EventRow}'s columns, in the description's order. */
export const EVENT_COLUMN_NAMES = Object.keys(EVENT_ROW) as readonly EventColumn[];

/** A stored event as every read returns it ({@link EVENT_COLUMNS}). */
export type EventRow = RowOf<typeof EVENT_ROW>;
/** A column of {@link EventRow}. */
export type EventColumn = keyof EventRow;

/**
 * A select list for some of the event columns, in the description's order, each qualified by `alias` when given
 * (`e.seq, e.extensions::text as extensions`).
 */
export function eventColumns(names: readonly EventColumn[] = EVENT_COLUMN_NAMES, alias?: string): string {
  return names.map((name) => {
    const sql = alias ? `${alias}.${EVENT_ROW[name].sql}` : EVENT_ROW[name].sql;
    return EVENT_ROW[name].sql === name && !alias ? name : `${sql} as ${name}`;
  }).join(", ");
}

/** The columns every read returns ({@link EventRow}), from the one description so reads and the mapping below agree. */
export const EVENT_COLUMNS: string = eventColumns();

/** A row of the attempt history, as the store reads it. */
export type AttemptRow = {
  destination: string;
  attempt: number;
  started_at: DbTime;
  duration_ms: number;
  outcome: AttemptOutcome;
  status: number | null;
  error: string | null;
};

/** Maps a row of the attempt history to its record. */
export function toAttempt(row: AttemptRow): AttemptRecord {
  const a: AttemptRecord = {
    destination: row.destination,
    attempt: Number(row.attempt),
    startedAt: date(row.started_at) as Date,
    durationMs: Number(row.duration_ms),
    outcome: row.outcome,
  };
  if (row.status != null) a.status = Number(row.status);
  if (row.error != null) a.error = row.error;
  return a;
}

/**
 * Maps a stored row to the public record. A summary row (an event search) carries only some columns; the ones it
 * leaves out read as empty.
 */
export function toRecord(row: EventRow | EventSummaryRow): EventRecord;
/** The publish path still reads its rows untyped; they carry {@link EVENT_COLUMNS}. */
export function toRecord(row: Row): EventRecord;
export function toRecord(input: EventRow | EventSummaryRow | Row): EventRecord {
  // A summary row's missing columns read as undefined, which every field below treats as empty.
  const row = input as EventRow;
  const status = row.status;
  const stored = json(row.deliveries) as Record<string, StoredDelivery> | null;
  // Sorted by name: jsonb keeps its keys in its own order (shortest first), which reads as random.
  const deliveries = Object.entries(stored ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, d]): DeliveryRecord => ({
    name,
    status: status === "processing" && d.status === "pending" ? "processing" : d.status,
    attempts: d.attempts,
    lastError: d.lastError ?? null,
    nextAttemptAt: d.nextAttemptAt == null ? null : new Date(d.nextAttemptAt),
    deliveredAt: d.deliveredAt == null ? null : new Date(d.deliveredAt),
  }));
  return {
    id: row.id,
    type: row.type,
    source: row.source,
    specversion: row.specversion,
    subject: row.subject ?? null,
    time: row.time ?? null,
    datacontenttype: row.datacontenttype ?? null,
    dataschema: row.dataschema ?? null,
    extensions: (json(row.extensions) as Record<string, ExtensionValue> | null) ?? {},
    data: json(row.data) ?? undefined,
    status,
    // The most attempts at any one destination: what an operator means by "how often was this tried". Without
    // deliveries it is the worker's claims, unless the event is published: then it went nowhere and nothing was tried.
    attempts: deliveries.length ? Math.max(...deliveries.map((d) => d.attempts)) : status === "published" ? 0 : Number(row.attempts),
    maxRetries: row.max_retries == null ? null : Number(row.max_retries),
    lastError: row.last_error ?? null,
    orderingKey: row.ordering_key ?? null,
    scheduledAt: date(row.scheduled_at),
    createdAt: date(row.created_at) as Date,
    publishedAt: date(row.published_at),
    deliveries,
  };
}

/** The columns an event search returns ({@link EventSummaryRow}); `last_error` is cut to 500 characters. */
export const SUMMARY_COLUMNS = [
  "seq", "id", "source", "type", "subject", "status", "attempts", "last_error", "deliveries", "created_at", "published_at",
] as const satisfies readonly EventColumn[];
/** An event as a search returns it: the columns a list shows, no data. */
export type EventSummaryRow = Pick<EventRow, (typeof SUMMARY_COLUMNS)[number]>;

/** The record of an event just inserted: what was sent, plus what the database made up (`created_at`). */
export function newRecord(e: NewEvent, row: Row): PublishedEvent {
  return {
    id: e.id,
    type: e.type,
    source: e.source,
    specversion: e.specversion,
    subject: e.subject,
    time: e.time,
    datacontenttype: e.datacontenttype,
    dataschema: e.dataschema,
    extensions: e.extensions ?? {},
    data: e.data === null ? undefined : JSON.parse(e.data),
    status: "pending",
    attempts: 0,
    maxRetries: e.max_retries,
    lastError: null,
    orderingKey: e.ordering_key,
    scheduledAt: date(e.scheduled_at),
    createdAt: date(row.created_at as DbTime) as Date,
    publishedAt: null,
    deliveries: [],
    duplicate: false,
  };
}

/** JSON columns are read as text (`::text`), because clients differ in whether and how they parse jsonb. */
export function json(value: string | null | undefined): unknown {
  return value == null ? null : JSON.parse(value);
}

/** Clients differ: postgres.js and node-postgres return Dates for timestamptz, others return text. */
export function date(value: DbTime | null | undefined): Date | null {
  if (value == null) return null;
  return value instanceof Date ? value : new Date(value);
}
