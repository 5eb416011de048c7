import type { Row } from "./client.ts";
import type { ExtensionValue, NewEvent } from "./event.ts";

/** An event's status, in the seed's words. */
export type EventStatus = "pending" | "processing" | "published" | "failed";
/** The state of one event at one destination. */
export type DeliveryStatus = "pending" | "processing" | "delivered" | "failed";

/** One event's progress at one destination. */
export interface DeliveryRecord {
  name: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** What one attempt at one destination led to. */
export type AttemptOutcome = "delivered" | "retry" | "failed";

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

/** Maps a row of the attempt history to its record. */
export function toAttempt(row: Row): AttemptRecord {
  const a: AttemptRecord = {
    destination: row.destination as string,
    attempt: Number(row.attempt),
    startedAt: date(row.started_at) as Date,
    durationMs: Number(row.duration_ms),
    outcome: row.outcome as AttemptOutcome,
  };
  if (row.status != null) a.status = Number(row.status);
  if (row.error != null) a.error = row.error as string;
  return a;
}

/** The columns every read returns, in one place so reads and the mapping below agree. */
export const EVENT_COLUMNS =
  "seq, id, source, type, specversion, subject, time, datacontenttype, dataschema, extensions::text as extensions, data::text as data, status, attempts, max_retries, last_error, ordering_key, deliveries::text as deliveries, scheduled_at, next_attempt_at, created_at, published_at";

/** Maps a stored row to the public record. */
export function toRecord(row: Row): EventRecord {
  const status = row.status as EventStatus;
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
    id: row.id as string,
    type: row.type as string,
    source: row.source as string,
    specversion: row.specversion as string,
    subject: (row.subject as string | null) ?? null,
    time: (row.time as string | null) ?? null,
    datacontenttype: (row.datacontenttype as string | null) ?? null,
    dataschema: (row.dataschema as string | null) ?? null,
    extensions: (json(row.extensions) as Record<string, ExtensionValue> | null) ?? {},
    data: json(row.data) ?? undefined,
    status,
    // The most attempts at any one destination: what an operator means by "how often was this tried".
    attempts: deliveries.length ? Math.max(...deliveries.map((d) => d.attempts)) : Number(row.attempts),
    maxRetries: row.max_retries == null ? null : Number(row.max_retries),
    lastError: (row.last_error as string | null) ?? null,
    orderingKey: (row.ordering_key as string | null) ?? null,
    scheduledAt: date(row.scheduled_at),
    createdAt: date(row.created_at) as Date,
    publishedAt: date(row.published_at),
    deliveries,
  };
}

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
    createdAt: date(row.created_at) as Date,
    publishedAt: null,
    deliveries: [],
    duplicate: false,
  };
}

/** JSON columns are read as text (`::text`), because clients differ in whether and how they parse jsonb. */
export function json(value: unknown): unknown {
  return value == null ? null : JSON.parse(value as string);
}

/** Clients differ: postgres.js and node-postgres return Dates for timestamptz, others return text. */
export function date(value: unknown): Date | null {
  if (value == null) return null;
  return value instanceof Date ? value : new Date(value as string);
}
