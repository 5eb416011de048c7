import type { CloudEvent } from "cloudevents";
import type { Sql } from "postgres";
import { type Client, type Query, toQuery } from "./client.ts";
import { type EventCatalog, type EventFor, type EventMap, checkInput, type TypedEventInput } from "./catalog.ts";
import { type Destination, type Handler, isDestinationName, MAX_DESTINATION_NAME, type TransactionalHandler } from "./destination.ts";
import { DispatchError } from "./errors.ts";
import { type DeliveryOptions, type EventInput, fromCloudEvent, fromInput, type NewEvent } from "./event.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { consoleLogger, type Logger } from "./logger.ts";
import { assertKnownKeys, assertLogger, optionsObject, wholeNumber } from "./options.ts";
import { EVENT_STATUSES, type EventRecord, type EventStatus, type PublishedEvent, toAttempt, toRecord } from "./record.ts";
import { type RegisterOptions, Registry, type TypePattern } from "./registry.ts";
import { type RetryOptions, type RetryPolicy, retryPolicy } from "./retry.ts";
import { assertSchedule, DEFAULT_MAX_SCHEDULE_AHEAD_MS, MAX_SCHEDULE_AHEAD_MS } from "./schedule.ts";
import { type Schema, schema } from "./schema.ts";
import { isStorable } from "./text.ts";
import * as events from "./store/events.ts";
import { migrate } from "./store/migrate.ts";
import { pause, paused, resume, wakeDestination } from "./store/destinations.ts";
import { history } from "./store/history.ts";
import { explainMissingTables } from "./preflight.ts";
import { publish } from "./store/publish.ts";
import { retry } from "./store/retry.ts";
import { countRetry } from "./store/retry-count.ts";
import { retryEvents } from "./store/retry-events.ts";
import { countReplay, replayEvents } from "./store/replay-events.ts";
import { type EventFilter, storeFilter, typeMatch } from "./filter.ts";
import { type DestinationRoute, replayScope } from "./replay-scope.ts";
import { type Stats, stats } from "./store/stats.ts";
import { Telemetry } from "./telemetry.ts";
import { Worker, type WorkerOptions } from "./worker.ts";
import { listenUrl, type WakeMode, wakeMode } from "./worker/wake.ts";

/** Settings of an {@link Outbox}. `E` is the event catalog's types, inferred from `events`. */
// deno-lint-ignore no-explicit-any
export interface OutboxOptions<E extends EventMap = any> {
  /** A postgres.js client: the outbox's own connection pool (the worker opens one more, to LISTEN). */
  sql: Sql;
  /** The PostgreSQL schema holding the outbox tables; also the NOTIFY channel. Default "dispatch". */
  schema?: string | undefined;
  /** Where to log. Default: warnings and errors to the console. */
  logger?: Logger | undefined;
  /** Retry defaults for every event. */
  retry?: RetryOptions | undefined;
  /** The largest event data accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number | undefined;
  /**
   * How far ahead `scheduledAt` may be, in ms. Default 366 days; at most 100 years. A scheduled event with an
   * ordering key holds its key until it is delivered.
   */
  maxScheduleAheadMs?: number | undefined;
  /**
   * OpenTelemetry traces and metrics (when `@opentelemetry/api` is installed) and this process's counters for
   * `GET /metrics`. Set false to record and propagate nothing. Default true.
   */
  telemetry?: boolean | undefined;
  /**
   * How workers learn of new events. "notify" (default): publish sends a NOTIFY with the insert. "logical": publish
   * only inserts, workers follow the WAL (needs wal_level=logical). "poll": publish only inserts, workers ask every
   * `pollIntervalMs`. See the README's "Wake-up modes".
   */
  wake?: WakeMode | undefined;
  /** A direct connection for the worker's LISTEN (or WAL stream) when `sql` goes through a transaction pooler. */
  listenUrl?: string | undefined;
  /**
   * The event catalog ({@link defineEvents}): each known type's data is type-checked in `publishEvent` and
   * `register`, validated when published (`invalid_data` names the path, nothing is stored), and its events get the
   * catalog's `dataschema`. Types not in the catalog are published as they are.
   */
  events?: EventCatalog<E> | undefined;
}

/** Options of the publish calls. */
export interface PublishOptions {
  /** Publish inside this transaction (postgres.js, or any client with query/unsafe): committed with it or not at all. */
  tx?: Client | undefined;
  /**
   * Set false for bulk loads to skip the NOTIFY; the worker still finds the events on its next sweep. Default true.
   * Only the "notify" wake mode sends one at all.
   */
  notify?: boolean | undefined;
}

/** Options of `publishCloudEvent`: delivery settings and the transaction. */
export interface PublishCloudEventOptions extends PublishOptions, DeliveryOptions {}

/** Filters of `listEvents`. */
export interface ListOptions {
  status?: EventStatus | undefined;
  /** One type, or a prefix written as registrations write it: `"order.*"` lists `order.created` and `order.paid`. */
  type?: string | undefined;
  source?: string | undefined;
  /** Page size, 1 to 1000. Default 100. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
  /** False to leave each event's `data` out (a summary list). Default true. */
  data?: boolean | undefined;
}

/**
 * One page of events, newest first. A page also ends before the event that would take its data past about 4 MiB
 * (it always holds at least one event); `nextCursor` then continues with that event.
 */
export interface EventPage {
  events: EventRecord[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** Narrows a look-up by id to one source (ids are unique per source). */
export interface LookupOptions {
  source?: string | undefined;
}

/** Options of `getEvent`. */
export interface GetEventOptions extends LookupOptions {
  /** Also read the attempt history: every attempt at every destination, oldest first. */
  history?: boolean | undefined;
}

/** Options of `retryEvent`: the source, and optionally the one destination to retry. */
export interface RetryEventOptions extends LookupOptions {
  /** Retry only this destination's failed delivery; the event's other failed deliveries stay failed. */
  destination?: string | undefined;
}

/** Options of `retryEvents`. */
export interface RetryEventsOptions {
  /** Count what would be retried, and change nothing. */
  dryRun?: boolean | undefined;
}

/** Options of `replayEvents`. */
export interface ReplayEventsOptions {
  /** The one destination to send the events to again (or for the first time: a backfill). Required. */
  destination: string;
  /** Count what would be replayed, and change nothing. */
  dryRun?: boolean | undefined;
}

const OUTBOX_KEYS = ["sql", "schema", "logger", "retry", "maxPayloadBytes", "maxScheduleAheadMs", "telemetry", "wake", "listenUrl", "events"] as const;
const PUBLISH_KEYS = ["tx", "notify"] as const;
const STATUSES: readonly string[] = EVENT_STATUSES;

/**
 * A transactional outbox on PostgreSQL: publish events with your data, deliver them with a worker.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Outbox } from "pg-dispatch";
 *
 * const sql = postgres(process.env.DATABASE_URL!);
 * const outbox = new Outbox({ sql });
 * await outbox.migrate();
 * outbox.register("user.created", (event) => sendWelcomeEmail(event.data));
 * await sql.begin(async (tx) => {
 *   await tx`insert into users (name) values ('ada')`;
 *   await outbox.publishEvent({ type: "user.created", source: "users", data: { name: "ada" } }, { tx });
 * });
 * await outbox.worker().start();
 * ```
 */
// `E` is `any` without a catalog, and `any` means untyped (every type, any data, DeliveredEvent handlers): so a plain
// `Outbox`, as functions that take one write it, accepts an outbox with any catalog.
// deno-lint-ignore no-explicit-any
export class Outbox<E extends EventMap = any> {
  /** The postgres.js client the outbox was built with. */
  readonly sql: Sql;
  /** The validated schema. */
  readonly schema: Schema;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  readonly maxPayloadBytes: number;
  readonly maxScheduleAheadMs: number;
  /** Spans and metrics (see the README's Observability section); `GET /metrics` reads its figures. */
  readonly telemetry: Telemetry;
  /** How workers learn of new events. */
  readonly wake: WakeMode;
  readonly #listenUrl: string | undefined;
  /** The event catalog passed as `events`, if any. */
  readonly events: EventCatalog<E> | undefined;
  readonly #registry = new Registry();
  readonly #query: Query;
  /** Whether a publish without `tx` is surely a transaction of its own (see {@link ownTransactions}). */
  readonly #ownTransactions: boolean;

  constructor(options: OutboxOptions<E>) {
    const o = optionsObject(options, "Outbox");
    assertKnownKeys(o, OUTBOX_KEYS, "Outbox options");
    if (!o.sql || typeof o.sql.unsafe !== "function" || typeof o.sql.begin !== "function") {
      throw new DispatchError("invalid_option", "Outbox needs { sql }: a postgres.js client, e.g. postgres(process.env.DATABASE_URL).");
    }
    this.sql = o.sql;
    assertLogger(o.logger);
    this.schema = schema(o.schema);
    this.logger = o.logger ?? consoleLogger;
    this.retry = retryPolicy(o.retry);
    this.maxPayloadBytes = wholeNumber(o.maxPayloadBytes, "maxPayloadBytes", 1, 1_048_576);
    this.maxScheduleAheadMs = wholeNumber(o.maxScheduleAheadMs, "maxScheduleAheadMs", 0, DEFAULT_MAX_SCHEDULE_AHEAD_MS, MAX_SCHEDULE_AHEAD_MS);
    this.#query = explainMissingTables(toQuery(o.sql), this.schema);
    this.#ownTransactions = ownTransactions(o.sql);
    if (o.telemetry !== undefined && typeof o.telemetry !== "boolean") {
      throw new DispatchError("invalid_option", "telemetry must be true or false.", { field: "telemetry" });
    }
    this.telemetry = new Telemetry(o.telemetry !== false, { schema: this.schema, query: this.#query, registry: this.#registry, logger: this.logger });
    this.wake = wakeMode(o.wake);
    this.#listenUrl = listenUrl(o.listenUrl);
    if (o.events !== undefined && !isCatalog(o.events)) {
      throw new DispatchError("invalid_option", "events must be an event catalog made by defineEvents({ ... }).", { field: "events" });
    }
    this.events = o.events;
  }

  /** The `listenUrl` option: where workers LISTEN (or follow the WAL) when not where `sql` connects; `pg-dispatch doctor` tests it. */
  get listenUrl(): string | undefined {
    return this.#listenUrl;
  }

  /**
   * Creates or upgrades the outbox tables. Idempotent, and safe when many processes run it at once.
   * Returns the migration versions it applied (empty when up to date).
   *
   * @example
   * ```ts
   * await outbox.migrate();
   * ```
   */
  async migrate(): Promise<number[]> {
    return await migrate(this.sql, this.schema);
  }

  /**
   * Registers a destination (a handler function, `webhook(...)`, `pubsub(...)`) for one type, a list of types,
   * a prefix (`order.*`), everything (`*`), or, with no type at all, every event (a global handler).
   *
   * @example
   * ```ts
   * outbox.register("user.created", handleUserCreated);
   * outbox.register(["order.created", "order.updated"], handleOrder);
   * outbox.register(logAllEvents);
   * outbox.register("order.*", webhook({ url: "https://example.com/hooks" }));
   * // exactly once in this database: the handler's writes commit with the delivery
   * outbox.register("order.paid", async (event, ctx) => {
   *   await ctx.tx`insert into invoices ${ctx.tx({ order_id: (event.data as { id: number }).id })}`;
   * }, { transactional: true });
   * ```
   */
  register<K extends TypePattern>(types: K | readonly K[], target: TransactionalHandler<EventFor<E, K>>, options: RegisterOptions & { transactional: true }): Destination;
  register(target: TransactionalHandler, options: RegisterOptions & { transactional: true }): Destination;
  register(target: Handler | Destination, options?: RegisterOptions): Destination;
  register<K extends TypePattern>(types: K | readonly K[], target: Handler<EventFor<E, K>> | Destination, options?: RegisterOptions): Destination;
  register(
    a: TypePattern | readonly TypePattern[] | Handler | TransactionalHandler | Destination,
    // never: a handler typed for a catalogued event is still a handler here, where events are untyped.
    b?: Handler<never> | TransactionalHandler<never> | Destination | RegisterOptions,
    c?: RegisterOptions,
  ): Destination {
    if (typeof a === "string" || Array.isArray(a)) {
      if (!b) throw new DispatchError("invalid_option", "register(type, handler): the handler or destination is missing.");
      return this.#registry.add(a as TypePattern | TypePattern[], b as Handler | Destination, optionsObject(c, "register"));
    }
    // register(undefined, handler): a type constant misspelt or a variable unset, not a global handler with options.
    if (typeof a !== "function" && (typeof a !== "object" || a === null)) {
      const got = a === null ? "null" : a === undefined ? "undefined" : `a ${typeof a}`;
      throw new DispatchError(
        "invalid_option",
        `register(type, handler): the type is ${got}; give an event type ("user.created"), a list of them, or a prefix ("order.*"), or register(handler) alone for every event.`,
      );
    }
    return this.#registry.add(undefined, a as Handler | Destination, optionsObject(b as RegisterOptions | undefined, "register"));
  }

  /** Every registered destination. */
  destinations(): Destination[] {
    return this.#registry.all();
  }

  /**
   * Every registered destination's name with the event type patterns it was registered for, in registration order.
   *
   * @example
   * ```ts
   * outbox.register("order.*", webhook({ url: "https://warehouse.example/hooks", name: "warehouse" }));
   * outbox.routes(); // [{ name: "warehouse", patterns: ["order.*"] }]
   * ```
   */
  routes(): DestinationRoute[] {
    return this.#registry.routes();
  }

  /**
   * Publishes one event (Django Dispatch's `publisher.publish_event`). With `{ tx }` it joins your transaction.
   * Publishing an existing source + id again returns the stored event and delivers nothing twice.
   *
   * @example
   * ```ts
   * const event = await outbox.publishEvent({ type: "user.created", source: "user-service", data: { user_id: 123 } });
   * ```
   */
  async publishEvent<K extends string>(input: TypedEventInput<E, K>, options?: PublishOptions): Promise<PublishedEvent> {
    const o = this.#publishOptions(options, PUBLISH_KEYS, "publishEvent options");
    const checked = await checkInput(this.events, input as EventInput);
    return (await this.#publish([fromInput(checked, this.maxPayloadBytes)], o))[0];
  }

  /**
   * Publishes a CloudEvent you built (Django Dispatch's `publisher.publish_cloud_event`).
   *
   * @example
   * ```ts
   * await outbox.publishCloudEvent(new CloudEvent({ type: "order.completed", source: "orders", data, subject: "Order #456" }));
   * ```
   */
  async publishCloudEvent(event: CloudEvent<unknown>, options?: PublishCloudEventOptions): Promise<PublishedEvent> {
    const { tx, notify, ...delivery } = this.#publishOptions(options, [...PUBLISH_KEYS, "scheduledAt", "maxRetries", "orderingKey"], "publishCloudEvent options");
    // A catalogued type's data is validated like publishEvent's; the checked copy is a plain object of the attributes.
    const checked = await checkInput(this.events, event as unknown as EventInput) as unknown as CloudEvent<unknown>;
    return (await this.#publish([fromCloudEvent(checked, delivery, this.maxPayloadBytes)], { tx, notify }))[0];
  }

  /**
   * Publishes many events in one statement and at most one notification. All are checked before any is written.
   *
   * @example
   * ```ts
   * await outbox.publishEvents(users.map((u) => ({ type: "user.imported", source: "import", data: { id: u.id } })));
   * ```
   */
  async publishEvents<K extends string>(inputs: ReadonlyArray<TypedEventInput<E, K>>, options?: PublishOptions): Promise<PublishedEvent[]> {
    if (!Array.isArray(inputs)) throw new DispatchError("invalid_event", "publishEvents takes an array of events.");
    const o = this.#publishOptions(options, PUBLISH_KEYS, "publishEvents options");
    if (inputs.length === 0) return [];
    const checked: EventInput[] = [];
    for (let i = 0; i < inputs.length; i++) {
      try {
        checked.push(await checkInput(this.events, inputs[i] as EventInput));
      } catch (err) {
        throw inBatchError(i, err);
      }
    }
    return await this.#publish(checked.map((input, i) => inBatch(i, () => fromInput(input, this.maxPayloadBytes))), o);
  }

  #publishOptions<T extends PublishOptions>(options: T | undefined, keys: readonly string[], where: string): T {
    const o = optionsObject(options, where) as T;
    assertKnownKeys(o, keys, where);
    if (o.notify !== undefined && typeof o.notify !== "boolean") {
      throw new DispatchError("invalid_option", "notify must be true or false.");
    }
    return o;
  }

  async #publish(rows: NewEvent[], options: PublishOptions): Promise<PublishedEvent[]> {
    if (rows.length === 1) assertSchedule(rows[0], this.maxScheduleAheadMs);
    else for (let i = 0; i < rows.length; i++) inBatch(i, () => assertSchedule(rows[i], this.maxScheduleAheadMs));
    const query = options.tx ? explainMissingTables(toQuery(options.tx), this.schema) : this.#query;
    await this.telemetry.ready();
    const trace = this.telemetry.publishing(rows);
    try {
      const events = await publish(query, this.schema, rows, this.wake === "notify" && options.notify !== false, !options.tx && this.#ownTransactions);
      this.telemetry.published(trace, events);
      return events;
    } catch (err) {
      this.telemetry.published(trace, null, err);
      throw err;
    }
  }

  /**
   * An event with its status and per-destination deliveries, or null when there is none.
   *
   * @example
   * ```ts
   * const e = await outbox.getEvent(event.id);
   * if (e?.status === "failed") alertOps(`Event failed: ${e.lastError}`);
   * ```
   */
  async getEvent(id: string, options?: GetEventOptions): Promise<EventRecord | null> {
    const source = this.#lookup(id, options, "getEvent", ["source", "history"]);
    const withHistory = options?.history;
    if (withHistory !== undefined && typeof withHistory !== "boolean") {
      throw new DispatchError("invalid_option", "history must be true or false.", { field: "history" });
    }
    const rows = await events.getEvent(this.#query, this.schema, id, source);
    if (rows.length > 1) {
      throw new DispatchError("ambiguous_id", `Several sources published an event with id "${id}"; pass { source } to say which.`, { field: "source" });
    }
    if (!rows.length) return null;
    const record = toRecord(rows[0]);
    if (withHistory) record.history = (await history(this.#query, this.schema, String(rows[0].seq))).map(toAttempt);
    return record;
  }

  /**
   * Pauses a destination for every worker: events keep being published and wait for it; nothing is attempted there
   * and no retry is used up until it is resumed. The state lives in the database, so it survives restarts. Takes
   * effect within about a second. The name need not be registered in this process.
   *
   * @example
   * ```ts
   * await outbox.pauseDestination("crm-sync");   // the CRM is down for maintenance
   * await outbox.resumeDestination("crm-sync");  // what waited is due now
   * ```
   */
  async pauseDestination(name: string): Promise<void> {
    await pause(this.#query, this.schema, destinationName(name));
  }

  /** Resumes a paused destination: what waited for it is due now. Returns false when it was not paused. */
  async resumeDestination(name: string): Promise<boolean> {
    const was = await resume(this.#query, this.schema, destinationName(name));
    if (was) {
      await wakeDestination(this.#query, this.schema, name);
      await this.#query(`select pg_notify($1, '')`, [this.schema.channel]);
    }
    return was;
  }

  /** The paused destinations, with the time each was paused. */
  async pausedDestinations(): Promise<Array<{ name: string; pausedAt: Date }>> {
    return await paused(this.#query, this.schema);
  }

  /**
   * Lists events newest first, filtered by status, type or source, a page at a time.
   *
   * @example
   * ```ts
   * const { events, nextCursor } = await outbox.listEvents({ status: "failed", limit: 50 });
   * ```
   */
  async listEvents(options?: ListOptions): Promise<EventPage> {
    const o = optionsObject(options, "listEvents");
    assertKnownKeys(o, ["status", "type", "source", "limit", "cursor", "data"], "listEvents options");
    if (o.status !== undefined && !STATUSES.includes(o.status)) {
      throw new DispatchError("invalid_option", `status must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(o.status)}.`, { field: "status" });
    }
    for (const key of ["type", "source"] as const) {
      if (o[key] !== undefined) storableText(o[key], key);
    }
    if (o.data !== undefined && typeof o.data !== "boolean") throw new DispatchError("invalid_option", "data must be true or false.", { field: "data" });
    const limit = wholeNumber(o.limit, "limit", 1, events.PAGE_LIMIT.default, events.PAGE_LIMIT.max);
    const { rows, more } = await events.listEvents(this.#query, this.schema, {
      status: o.status ?? null,
      ...typeMatch(o.type),
      source: o.source ?? null,
      before: o.cursor === undefined ? null : decodeCursor(o.cursor),
      limit,
      data: o.data !== false,
    });
    return {
      events: rows.map(toRecord),
      nextCursor: more && rows.length ? encodeCursor(String(rows[rows.length - 1].seq)) : null,
    };
  }

  /**
   * Makes an event's failed deliveries due now, with a fresh retry budget; delivered ones are not sent again.
   * With `{ destination }`, only that destination's delivery. Returns the event (unchanged when nothing had failed),
   * or null when there is no such event.
   *
   * @example
   * ```ts
   * await outbox.retryEvent(event.id);
   * await outbox.retryEvent(event.id, { destination: "billing-webhook" });
   * ```
   */
  async retryEvent(id: string, options?: RetryEventOptions): Promise<EventRecord | null> {
    const { destination, ...lookup } = optionsObject(options, "retryEvent");
    if (destination !== undefined && (typeof destination !== "string" || !destination)) {
      throw new DispatchError("invalid_option", "destination must be a destination's name (a non-empty string).", { field: "destination" });
    }
    const source = this.#lookup(id, lookup, "retryEvent");
    const [row] = await retry(this.#query, this.schema, id, source, destination ?? null);
    return row ? toRecord(row) : await this.getEvent(id, lookup);
  }

  /**
   * Makes every failed delivery of the events matching `filter` due now, with a fresh retry budget (with
   * `filter.destination`, only that destination's), in batches of short transactions. Returns how many events
   * became due; with `{ dryRun: true }`, how many would, changing nothing. Events a worker holds are left alone.
   *
   * @example
   * ```ts
   * const wouldRetry = await outbox.retryEvents({ type: "order.*", destination: "billing" }, { dryRun: true });
   * const retried = await outbox.retryEvents({ type: "order.*", destination: "billing" });
   * ```
   */
  async retryEvents(filter: EventFilter, options?: RetryEventsOptions): Promise<number> {
    const f = storeFilter(filter, "retryEvents");
    if (f.status !== null && f.status !== "failed") {
      throw new DispatchError("invalid_option", `Only failed events have failed deliveries to retry; leave status out or pass "failed", got "${f.status}".`, { field: "status" });
    }
    const o = optionsObject(options, "retryEvents");
    assertKnownKeys(o, ["dryRun"], "retryEvents options");
    if (dryRun(o.dryRun)) return await countRetry(this.#query, this.schema, f, null);
    return await retryEvents(this.#query, this.schema, f);
  }

  /**
   * Sends the finished (published or failed) events matching `filter` to one destination again, or for the first
   * time to a destination registered after they were published (a backfill). Only that destination's delivery
   * changes: it becomes pending with a fresh retry budget (its attempt count goes on), and the event is due until
   * it is delivered there; the other destinations keep their state and are not called. Works in batches of short
   * transactions; returns how many events became due, or with `{ dryRun: true }` how many would. The worker delivers
   * them only where the destination is registered for the event's type. Events still in flight are left alone.
   *
   * @example
   * ```ts
   * outbox.register("order.*", webhook({ url: "https://warehouse.example/hooks", name: "warehouse" }));
   * const n = await outbox.replayEvents({ type: "order.*", from: new Date("2025-01-01") }, { destination: "warehouse" });
   * ```
   */
  async replayEvents(filter: EventFilter, options: ReplayEventsOptions): Promise<number> {
    const f = storeFilter(filter, "replayEvents");
    if (f.status !== null && f.status !== "published" && f.status !== "failed") {
      throw new DispatchError("invalid_option", `Only finished events can be replayed; pass status "published" or "failed", or leave it out, got "${f.status}".`, { field: "status" });
    }
    const o = optionsObject(options, "replayEvents");
    assertKnownKeys(o, ["destination", "dryRun"], "replayEvents options");
    if (o.destination === undefined) {
      throw new DispatchError("invalid_option", "replayEvents needs { destination }: the name of the one destination to send the events to.", { field: "destination" });
    }
    const destination = destinationName(o.destination);
    const routed = replayScope(f, destination, this.#registry.routes());
    if (dryRun(o.dryRun)) return await countReplay(this.#query, this.schema, routed, null);
    return await replayEvents(this.#query, this.schema, routed, destination);
  }

  /**
   * Counts by status and the age of the oldest due event: a backlog that grows means the workers cannot keep up.
   *
   * @example
   * ```ts
   * const { failed, oldestDueAgeMs } = await outbox.stats();
   * ```
   */
  async stats(): Promise<Stats> {
    return await stats(this.#query, this.schema);
  }

  /**
   * Creates a worker that delivers this outbox's events to its registered destinations.
   *
   * @example
   * ```ts
   * const worker = outbox.worker({ concurrency: 32 });
   * await worker.start();
   * ```
   */
  worker(options?: WorkerOptions): Worker {
    return new Worker(
      {
        sql: this.sql, query: this.#query, schema: this.schema, registry: this.#registry, retry: this.retry, logger: this.logger,
        telemetry: this.telemetry, wake: this.wake, listenUrl: this.#listenUrl,
      },
      options,
    );
  }

  /**
   * Releases what the destinations hold (a Pub/Sub client, for one), so the process can exit. Call it after your
   * workers have stopped; the `sql` client is yours to end. A destination that fails to close is logged, not thrown.
   *
   * @example
   * ```ts
   * await worker.stop();
   * await outbox.close();
   * await sql.end();
   * ```
   */
  async close(): Promise<void> {
    for (const d of this.#registry.all()) {
      try {
        await d.close?.();
      } catch (err) {
        this.logger.warn("closing a destination failed", { destination: d.name, error: err });
      }
    }
  }

  #lookup(id: string, options: LookupOptions | undefined, where: string, keys: readonly string[] = ["source"]): string | null {
    if (typeof id !== "string" || id.length === 0) {
      throw new DispatchError("invalid_option", `${where} needs an event id (a non-empty string).`);
    }
    storableText(id, "id");
    const o = optionsObject(options, where);
    assertKnownKeys(o, keys, `${where} options`);
    if (o.source !== undefined) storableText(o.source, "source");
    return o.source ?? null;
  }
}

/**
 * Refuses a filter or look-up value that is not a string PostgreSQL can compare (NUL, a lone surrogate): it matches
 * no stored event, and the database would answer it with an encoding error rather than "none".
 */
function storableText(value: unknown, field: string): void {
  if (typeof value !== "string") throw new DispatchError("invalid_option", `${field} must be a string.`, { field });
  if (!isStorable(value)) {
    throw new DispatchError("invalid_option", `${field} contains a NUL character or a lone surrogate, which no stored event has; send well-formed text.`, { field });
  }
}

function destinationName(name: unknown): string {
  if (!isDestinationName(name)) {
    throw new DispatchError("invalid_option", `A destination name must be well-formed text of 1 to ${MAX_DESTINATION_NAME} bytes (UTF-8) without NUL.`, { field: "name" });
  }
  return name;
}

/**
 * True when every statement sent through `sql` is a transaction of its own: a postgres.js pool of more than one
 * connection, which refuses a `BEGIN` sent by hand (a transaction there is `sql.begin`, and reaches publish as `tx`).
 * On a single connection a caller may have sent `BEGIN` itself, and other clients are not known to refuse it: there a
 * publish must not risk a failing statement (see store/publish.ts `Conflict`).
 */
function ownTransactions(sql: Sql): boolean {
  const c = sql as unknown as { options?: { max?: unknown }; subscribe?: unknown; reserve?: unknown };
  return typeof c.subscribe === "function" && typeof c.reserve === "function" && typeof c.options?.max === "number" && c.options.max > 1;
}

/** The `dryRun` option of the bulk operations: true, false or absent; anything else would retry or replay by mistake. */
function dryRun(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new DispatchError("invalid_option", "dryRun must be true or false.", { field: "dryRun" });
  return value;
}

/** Says which element of a batch was refused: "events[3]: Invalid CloudEvent: ...", field "[3].type". */
function inBatch<T>(index: number, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw inBatchError(index, err);
  }
}

function inBatchError(index: number, err: unknown): unknown {
  if (!(err instanceof DispatchError)) return err;
  return new DispatchError(err.code, `events[${index}]: ${err.message}`, {
    cause: err,
    field: `[${index}]${err.field === undefined ? "" : `.${err.field}`}`,
  });
}

function isCatalog(value: unknown): value is EventCatalog<EventMap> {
  return typeof value === "object" && value !== null && typeof (value as EventCatalog).validate === "function" && typeof (value as EventCatalog).types === "function";
}
