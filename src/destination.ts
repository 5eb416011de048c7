import type { TransactionSql } from "postgres";
import type { CloudEvent } from "cloudevents";
import { utf8Length } from "./json.ts";
import type { Logger } from "./logger.ts";
import { isStorable } from "./text.ts";

/** An event as a destination receives it: a CloudEvent with JSON data (or none). */
export type DeliveredEvent = CloudEvent<unknown>;

/** What a destination gets besides the event on every attempt. */
export interface DeliveryContext {
  /** Aborted when the attempt times out or the worker stops; pass it to fetch and other cancellable calls. */
  signal: AbortSignal;
  /** 1 on the first attempt at this destination, 2 on the first retry, and so on. */
  attempt: number;
  /** The destination's registered name. */
  destination: string;
  /** The outbox's logger. */
  logger: Logger;
  /** The ordering key the event was published with, if any. */
  orderingKey?: string;
  /**
   * Only for a handler registered with `{ transactional: true }`: the transaction its writes go in. The delivery is
   * marked delivered in the same transaction, so the handler's effect commits exactly once with it.
   */
  tx?: TransactionSql;
  /**
   * The W3C trace context of this attempt (its span's, with OpenTelemetry; else the one stored with the event), for
   * the destination to send on: the webhook sends `traceparent`/`tracestate` headers, Pub/Sub sets attributes.
   */
  traceparent?: string;
  tracestate?: string;
}

/** What a destination may report about an accepted delivery, for the attempt history. */
export interface DeliveryReceipt {
  /** The destination's status code (a webhook's HTTP status). */
  status?: number;
}

/**
 * The longest destination name, in bytes of UTF-8 (ASCII: characters): registering, pausing, resuming and replaying
 * refuse a longer one. The name keys the destinations table, whose index entries PostgreSQL caps at 2704 bytes.
 */
export const MAX_DESTINATION_NAME = 1000;

/**
 * True for a name that can key a destination's state: well-formed text without NUL, 1 to
 * {@link MAX_DESTINATION_NAME} bytes.
 *
 * @example
 * ```ts
 * isDestinationName("crm-sync"); // true
 * isDestinationName("");         // false
 * ```
 */
export function isDestinationName(name: unknown): name is string {
  return typeof name === "string" && name.length > 0 && utf8Length(name, MAX_DESTINATION_NAME) <= MAX_DESTINATION_NAME && isStorable(name);
}

/**
 * Anything that can receive an event: a local handler, a webhook, a Pub/Sub topic. `deliver` resolves when the
 * event is accepted; it throws to fail the attempt (a {@link DeliveryError} says whether and when to retry).
 *
 * @example
 * ```ts
 * const audit: Destination = {
 *   name: "audit-log",
 *   async deliver(event, ctx) {
 *     await fetch("https://audit.example/log", { method: "POST", body: JSON.stringify(event), signal: ctx.signal });
 *   },
 * };
 * outbox.register("*", audit);
 * ```
 */
export interface Destination {
  /** A stable name: it keys the delivery's state, so renaming a destination makes it a new one. */
  readonly name: string;
  /** Delivers one event; may say what the destination answered, for the attempt history. */
  deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void | DeliveryReceipt>;
  /**
   * Checks that the destination can work, when a worker starts (before it claims anything): a worker whose destination
   * throws here refuses to start, with the message, instead of failing every delivery. Optional.
   */
  start?(): Promise<void>;
  /** Attempts per second across every worker, when registered with `{ rateLimit }`. */
  readonly rateLimit?: number;
  /** Set for handlers registered with `{ transactional: true }`: each attempt runs in a transaction (`ctx.tx`). */
  readonly transactional?: boolean;
  /**
   * Releases connections or clients. Called by `outbox.close()`, which the application calls after its workers have
   * stopped; never when a worker stops, since several workers may share one destination.
   */
  close?(): Promise<void>;
}

/**
 * A handler registered with `{ transactional: true }`: its context always has `tx`. `Event` is typed for a type in the
 * outbox's event catalog.
 */
export type TransactionalHandler<Event = DeliveredEvent> = (event: Event, ctx: DeliveryContext & { tx: TransactionSql }) => unknown;

/** A local handler function: the event and a context with an AbortSignal. `Event` is typed for a type in the outbox's event catalog. */
export type Handler<Event = DeliveredEvent> = (event: Event, ctx: DeliveryContext) => unknown;
