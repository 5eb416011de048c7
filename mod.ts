/**
 * pg-dispatch: a transactional outbox for PostgreSQL. Publish CloudEvents inside your transaction; a worker woken by
 * LISTEN/NOTIFY delivers them to handlers, webhooks and Pub/Sub with retries and per-destination status.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Outbox } from "pg-dispatch";
 *
 * const outbox = new Outbox({ sql: postgres(process.env.DATABASE_URL!) });
 * await outbox.migrate();
 * outbox.register("user.created", (event) => console.log(event.data));
 * await outbox.publishEvent({ type: "user.created", source: "user-service", data: { user_id: 123 } });
 * await outbox.worker().start();
 * ```
 *
 * @module
 */
export { CloudEvent } from "cloudevents";
export {
  type AsyncApiOptions,
  type CatalogOptions,
  defineEvents,
  EventCatalog,
  type EventDefinition,
  type EventFor,
  type EventMap,
  type EventSchemas,
  type EventTypesOf,
  type TypedEvent,
  type TypedEventInput,
} from "./src/catalog.ts";
export type { Client, Query, Row } from "./src/client.ts";
export type {
  DeliveredEvent,
  DeliveryContext,
  DeliveryReceipt,
  Destination,
  Handler,
  TransactionalHandler,
} from "./src/destination.ts";
export { DeliveryError, type DeliveryErrorOptions, DispatchError, type DispatchErrorCode, PermanentError } from "./src/errors.ts";
export { ATTRIBUTE_LIMITS, type DeliveryOptions, type EventInput, type ExtensionValue } from "./src/event.ts";
export { consoleLogger, DEFAULT_LOG_LEVEL, jsonLogger, LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "./src/logger.ts";
export {
  type EventPage,
  type GetEventOptions,
  type ListOptions,
  type LookupOptions,
  Outbox,
  type OutboxOptions,
  type PublishCloudEventOptions,
  type PublishOptions,
  type RetryEventOptions,
  type RetryEventsOptions,
  type ReplayEventsOptions,
} from "./src/outbox.ts";
export type { EventFilter } from "./src/filter.ts";
export type { DestinationRoute } from "./src/replay-scope.ts";
export type {
  AttemptOutcome,
  AttemptRecord,
  DeliveryRecord,
  DeliveryStatus,
  EventRecord,
  EventStatus,
  PublishedEvent,
} from "./src/record.ts";
export type { RegisterOptions, TypePattern } from "./src/registry.ts";
export type { RetentionOptions } from "./src/retention.ts";
export { DEFAULT_RETRY, type RetryOptions, type RetryPolicy } from "./src/retry.ts";
export type { DeliveryFailure } from "./src/store/complete.ts";
export { EXACT_COUNT, type Stats } from "./src/store/stats.ts";
export type { CircuitBreakerOptions } from "./src/worker/controls.ts";
export { superviseWorker, type SupervisedWorker, type SuperviseOptions, type WorkerFactory } from "./src/worker/supervise.ts";
export { Worker, type WorkerOptions } from "./src/worker.ts";
export type { WakeMode } from "./src/worker/wake.ts";
export { DEFAULT_WORKER } from "./src/worker/defaults.ts";
