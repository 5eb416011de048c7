/**
 * Traces and metrics. This is the one module that loads `@opentelemetry/api`: an optional peer dependency, imported
 * once, lazily, when the first outbox with telemetry on is built. Without it, spans cost one null check per event and
 * the process's own counters (for `GET /metrics`) still count; with it, spans and instruments go to whatever SDK the
 * application registered (none registered: the API's no-ops).
 */
import type * as OTel from "@opentelemetry/api";
import type { CloudEvent } from "cloudevents";
import type { Query } from "./client.ts";
import type { NewEvent } from "./event.ts";
import type { Logger } from "./logger.ts";
import type { AttemptOutcome, PublishedEvent } from "./record.ts";
import type { Registry } from "./registry.ts";
import type { Schema } from "./schema.ts";
import { type BacklogGauge, backlogGauges } from "./store/backlog-gauges.ts";
import { Metrics } from "./telemetry/metrics.ts";
import { MAX_SERIES, type MetricFamily } from "./telemetry/registry.ts";
import { formatTraceParent, parseTraceParent } from "./telemetry/traceparent.ts";

type Api = typeof OTel;

/** The loaded API: undefined until the import settles, null when it is not installed. */
let api: Api | null | undefined;
let loading: Promise<Api | null> | undefined;
/** The API's key of the active span in a context, once checked (see spanKeyOf); null: use `trace.setSpan`. */
let spanKey: symbol | null = null;

/** Imports `@opentelemetry/api` once per process; absent (or failing to load) means no OpenTelemetry. */
function loadApi(): Promise<Api | null> {
  loading ??= import("@opentelemetry/api").then(
    // A plain copy of the exports: reading them from a module namespace (CommonJS under Node) costs more per access,
    // and the per-attempt path reads several.
    (m) => {
      const loaded: Api = { ...((m as Api).trace ? (m as Api) : (m as unknown as { default: Api }).default) };
      spanKey = spanKeyOf(loaded);
      return (api = loaded);
    },
    () => (api = null),
  );
  return loading;
}

/**
 * A context that is `parent` with `span` active, made without copying `parent`: the API's `trace.setSpan` copies the
 * parent's whole map (and makes three closures) on every call, twice per attempt, while most handlers never read the
 * context and fewer still derive one from it. Deriving one (`setValue`, `deleteValue`) makes the copy then.
 */
class SpanContextOf implements OTel.Context {
  readonly #parent: OTel.Context;
  readonly #key: symbol;
  readonly #span: OTel.Span;
  constructor(parent: OTel.Context, key: symbol, span: OTel.Span) {
    this.#parent = parent;
    this.#key = key;
    this.#span = span;
  }

  getValue(key: symbol): unknown {
    return key === this.#key ? this.#span : this.#parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): OTel.Context {
    return this.#parent.setValue(this.#key, this.#span).setValue(key, value);
  }

  deleteValue(key: symbol): OTel.Context {
    return this.#parent.setValue(this.#key, this.#span).deleteValue(key);
  }
}

/**
 * The key under which the API keeps a context's span: `createContextKey` makes keys with `Symbol.for`, so every copy
 * of the API agrees on it. Checked once against `trace.getSpan`; a version that keeps it otherwise gets null, and
 * then contexts are made with `trace.setSpan` as before.
 */
function spanKeyOf(a: Api): symbol | null {
  try {
    const key = a.createContextKey("OpenTelemetry Context Key SPAN");
    const probe = a.trace.wrapSpanContext(a.INVALID_SPAN_CONTEXT);
    return a.trace.getSpan(new SpanContextOf(a.ROOT_CONTEXT, key, probe)) === probe ? key : null;
  } catch {
    return null;
  }
}

/** `parent` with `span` active. */
function withSpan(a: Api, parent: OTel.Context, span: OTel.Span): OTel.Context {
  return spanKey ? new SpanContextOf(parent, spanKey, span) : a.trace.setSpan(parent, span);
}

const SYSTEM = "pg-dispatch";
/** A `tracestate` value that can go in a header: printable ASCII, at most 512 characters (W3C Trace Context). */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/** An attempt's trace: the context to send downstream, and its span when OpenTelemetry records one. */
export interface AttemptTrace {
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** The span (an OpenTelemetry Span), opaque outside this module. */
  readonly span?: unknown;
}

/** An attempt's span; its context is written out only if a destination asks for it (most local handlers never do). */
class AttemptSpan implements AttemptTrace {
  readonly span: OTel.Span;
  readonly #api: Api;
  constructor(span: OTel.Span, a: Api) {
    this.span = span;
    this.#api = a;
  }

  get traceparent(): string | undefined {
    const sc = this.span.spanContext();
    return this.#api.trace.isSpanContextValid(sc) ? formatTraceParent(sc) : undefined;
  }

  get tracestate(): string | undefined {
    const sc = this.span.spanContext();
    return (this.#api.trace.isSpanContextValid(sc) && sc.traceState?.serialize()) || undefined;
  }
}

/** What starts an attempt span at one destination. */
interface AttemptStart {
  readonly name: string;
  readonly options: OTel.SpanOptions;
}

/** The publish span, opaque outside this module. */
export interface PublishTrace {
  readonly span: unknown;
}

/**
 * An outbox's telemetry: spans at publish and per attempt, and the metrics, both through OpenTelemetry (when
 * installed) and in the process's own registry (for `GET /metrics`). Built by the Outbox; `telemetry: false` makes
 * every method a no-op.
 *
 * @example
 * ```ts
 * const families = await outbox.telemetry.families(); // what GET /metrics writes out
 * ```
 */
export class Telemetry {
  /** False when the outbox was built with `telemetry: false`. */
  readonly enabled: boolean;
  readonly #schema: Schema;
  readonly #query: Query;
  readonly #registry: Registry;
  readonly #logger: Logger;
  readonly #metrics = new Metrics(() => (api ? api.metrics.getMeter(SYSTEM) : null));
  #tracer: OTel.Tracer | null = null;
  readonly #attemptStarts = new Map<string, AttemptStart>();
  #observers = 0;
  #stopObserving: (() => void) | null = null;

  constructor(enabled: boolean, deps: { schema: Schema; query: Query; registry: Registry; logger: Logger }) {
    this.enabled = enabled;
    this.#schema = deps.schema;
    this.#query = deps.query;
    this.#registry = deps.registry;
    this.#logger = deps.logger;
    if (enabled) void loadApi();
  }

  /** Resolves once `@opentelemetry/api` has been looked for (at once when telemetry is off or it is loaded). */
  async ready(): Promise<void> {
    if (this.enabled && api === undefined) await loadApi();
  }

  /**
   * Opens the producer span of a publish and stores its context on each event as the CloudEvents Distributed Tracing
   * extension (`traceparent`, `tracestate`), unless the event carries a `traceparent` already. Null without OpenTelemetry.
   */
  publishing(rows: NewEvent[]): PublishTrace | null {
    if (!this.enabled || !api) return null;
    const attributes: OTel.Attributes = {
      "messaging.system": SYSTEM,
      "messaging.operation.name": "publish",
      "messaging.operation.type": "send",
      "messaging.destination.name": this.#schema.name,
    };
    if (rows.length === 1) attributes["messaging.message.id"] = rows[0].id;
    else attributes["messaging.batch.message_count"] = rows.length;
    const span = this.#tracerOf(api).startSpan(`publish ${this.#schema.name}`, { kind: api.SpanKind.PRODUCER, attributes });
    const sc = span.spanContext();
    if (api.trace.isSpanContextValid(sc)) {
      const traceparent = formatTraceParent(sc);
      const tracestate = sc.traceState?.serialize() || undefined;
      for (const row of rows) {
        if (row.extensions?.traceparent !== undefined) continue;
        row.extensions = tracestate ? { ...row.extensions, traceparent, tracestate } : { ...row.extensions, traceparent };
      }
    }
    return { span };
  }

  /** Closes the publish span (with the error, if the write failed) and counts the events that were new. */
  published(trace: PublishTrace | null, events: PublishedEvent[] | null, error?: unknown): void {
    if (!this.enabled) return;
    if (events) for (const e of events) if (!e.duplicate) this.#metrics.published(e.type);
    const span = trace?.span as OTel.Span | undefined;
    if (!span || !api) return;
    if (error !== undefined) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.setAttribute("error.type", error instanceof Error ? error.name : "error");
    }
    span.end();
  }

  /**
   * Opens the span of one attempt at one destination, parented to the context stored with the event (so a retry an
   * hour later joins the same trace), and says what context to send downstream. Without OpenTelemetry that is the
   * stored context itself. Null when telemetry is off.
   */
  attempt(event: CloudEvent<unknown>, destination: string, attempt: number): AttemptTrace | null {
    if (!this.enabled) return null;
    // What a producer stored is outside text: only a well-formed context is sent on, as a header must be valid.
    const parent = parseTraceParent(event.traceparent);
    const storedState = parent && typeof event.tracestate === "string" && TRACESTATE.test(event.tracestate) ? event.tracestate : undefined;
    if (!api) return { traceparent: parent ? formatTraceParent(parent) : undefined, tracestate: storedState };
    let context = api.ROOT_CONTEXT;
    if (parent) {
      const sc: OTel.SpanContext = { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: true };
      if (storedState) sc.traceState = api.createTraceState(storedState);
      context = withSpan(api, context, api.trace.wrapSpanContext(sc));
    }
    const start = this.#attemptStart(api, destination);
    const span = this.#tracerOf(api).startSpan(start.name, start.options, context);
    // The attributes that change per attempt only when the span is kept: a sampled-out attempt costs the span alone.
    // Those a sampler may look at (the messaging ones, the destination) are given at the start, from one object per
    // destination, which the SDK copies rather than keeps.
    if (span.isRecording()) {
      span.setAttribute("messaging.message.id", event.id);
      span.setAttribute("pg_dispatch.attempt", attempt);
      span.setAttribute("pg_dispatch.event.type", event.type);
    }
    return new AttemptSpan(span, api);
  }

  /** Runs a delivery with the attempt's span active, so the spans a handler (or fetch) opens are its children. */
  within<T>(trace: AttemptTrace | null, deliver: () => T): T {
    const span = trace?.span as OTel.Span | undefined;
    if (!span || !api) return deliver();
    return api.context.with(withSpan(api, api.context.active(), span), deliver);
  }

  /**
   * Records how an attempt ended: closes its span and counts it. Times are epoch milliseconds on one clock;
   * `createdMs` (the publishing commit) gives the commit-to-delivered latency of a delivered attempt.
   */
  attempted(trace: AttemptTrace | null, destination: string, type: string, outcome: AttemptOutcome, startedMs: number, endedMs: number, createdMs: number | null, error: string | null, status: number | null): void {
    if (!trace) return;
    const latency = outcome === "delivered" && createdMs !== null && Number.isFinite(createdMs) ? Math.max(0, endedMs - createdMs) / 1000 : null;
    this.#metrics.attempt(destination, type, outcome, Math.max(0, endedMs - startedMs) / 1000, latency);
    const span = trace.span as OTel.Span | undefined;
    if (!span || !api) return;
    if (!span.isRecording()) {
      span.end();
      return;
    }
    span.setAttribute("pg_dispatch.outcome", outcome);
    if (status !== null) span.setAttribute("pg_dispatch.status", status);
    if (error !== null) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: error });
      span.setAttribute("error.type", outcome === "failed" ? "failed" : "retry");
    }
    span.end();
  }

  /** Each registered destination's backlog, from one cheap query (see src/store/backlog-gauges.ts). */
  async backlogGauges(): Promise<BacklogGauge[]> {
    const destinations = this.#registry.routes();
    return await backlogGauges(this.#query, this.#schema, destinations);
  }

  /**
   * Every figure, for `GET /metrics`: this process's counters and histograms (empty when telemetry is off) and the
   * backlog gauges, read from the database now.
   */
  async families(): Promise<MetricFamily[]> {
    const rows = await this.backlogGauges();
    const gauges: MetricFamily[] = [
      {
        name: "pg_dispatch_backlog",
        help: "Events a destination has not yet received nor failed for good (the same for every process).",
        kind: "gauge",
        samples: rows.map((r) => ({ labels: { destination: r.destination }, value: r.events })),
      },
      {
        name: "pg_dispatch_oldest_undelivered_age_seconds",
        help: "Seconds since the oldest event a destination has not yet received fell due.",
        kind: "gauge",
        samples: rows.map((r) => ({ labels: { destination: r.destination }, value: r.oldestAgeMs / 1000 })),
      },
    ];
    if (!this.enabled) return gauges;
    return [...this.#metrics.families(), ...gauges];
  }

  /**
   * Reports the backlog gauges through OpenTelemetry while a worker runs (one query per collection, whatever the
   * number of destinations). Returns the function that stops it; several workers of one outbox report once.
   */
  async observe(): Promise<() => void> {
    await this.ready();
    if (!this.enabled || !api) return () => {};
    if (this.#observers++ === 0) {
      const meter = api.metrics.getMeter(SYSTEM);
      const size = meter.createObservableGauge("pg_dispatch.backlog", {
        description: "Events a destination has not yet received nor failed for good.",
        unit: "{event}",
      });
      const age = meter.createObservableGauge("pg_dispatch.oldest_undelivered_age", {
        description: "Seconds since the oldest event a destination has not yet received fell due.",
        unit: "s",
      });
      const callback: OTel.BatchObservableCallback = async (result) => {
        try {
          for (const r of await this.backlogGauges()) {
            result.observe(size, r.events, { destination: r.destination });
            result.observe(age, r.oldestAgeMs / 1000, { destination: r.destination });
          }
        } catch (err) {
          this.#logger.warn("reading the backlog for metrics failed", { error: err });
        }
      };
      meter.addBatchObservableCallback(callback, [size, age]);
      this.#stopObserving = () => meter.removeBatchObservableCallback(callback, [size, age]);
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.#observers === 0) this.#stopObserving?.();
    };
  }

  /** An attempt span's name and start options for one destination, built once (they are the same every attempt). */
  #attemptStart(a: Api, destination: string): AttemptStart {
    let start = this.#attemptStarts.get(destination);
    if (start) return start;
    start = {
      name: `deliver ${destination}`,
      options: {
        kind: a.SpanKind.CONSUMER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.name": "deliver",
          "messaging.destination.name": this.#schema.name,
          "pg_dispatch.destination": destination,
        },
      },
    };
    // Destinations are registered, so this stays small; the bound only guards against a caller inventing names.
    if (this.#attemptStarts.size < MAX_SERIES) this.#attemptStarts.set(destination, start);
    return start;
  }

  #tracerOf(a: Api): OTel.Tracer {
    return (this.#tracer ??= a.trace.getTracer(SYSTEM));
  }
}
