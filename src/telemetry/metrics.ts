import type { AttemptOutcome } from "../record.ts";
import { Counter, Histogram, type HistogramSample, MAX_SERIES, type MetricFamily, type Sample } from "./registry.ts";

/**
 * The part of an OpenTelemetry `Meter` these metrics use, described here so that only src/telemetry.ts names the
 * optional package.
 */
export interface MeterLike {
  createObservableCounter(name: string, options?: InstrumentOptions): {
    addCallback(callback: (result: { observe(value: number, attributes?: Record<string, string>): void }) => void): void;
  };
  createHistogram(name: string, options?: InstrumentOptions): { record(value: number, attributes?: Record<string, string>): void };
}

/** Options of an OpenTelemetry instrument. */
export interface InstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** Seconds: from a fast local handler to a retry an hour after the commit. */
export const BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** One destination and type's series, found once and then updated directly. */
interface Pair {
  labels: readonly string[];
  attributes: Record<string, string>;
  duration: HistogramSample;
  latency: HistogramSample | null;
  delivered: Sample | null;
  failed: Sample | null;
  retried: Sample | null;
}

type Instruments = {
  duration: ReturnType<MeterLike["createHistogram"]>;
  latency: ReturnType<MeterLike["createHistogram"]>;
};

/**
 * The counters and histograms, kept in this process's own registry (for `GET /metrics`, with or without
 * OpenTelemetry) and reported through OpenTelemetry when a meter is available. The counters reach OpenTelemetry as
 * observable counters read from the registry at each collection, so counting costs one map update per event
 * (recording through the SDK hashes the attributes on every call); histograms are recorded on both sides.
 *
 * @example
 * ```ts
 * const m = new Metrics(() => null);
 * m.attempt("audit", "user.created", "delivered", 0.02, 0.5);
 * prometheusText(m.families());
 * ```
 */
export class Metrics {
  readonly #published = new Counter("pg_dispatch_events_published_total", "Events published by this process.", ["type"]);
  readonly #delivered = new Counter("pg_dispatch_deliveries_delivered_total", "Deliveries this process completed.", ["destination", "type"]);
  readonly #failed = new Counter("pg_dispatch_deliveries_failed_total", "Deliveries this process failed for good.", ["destination", "type"]);
  readonly #retried = new Counter("pg_dispatch_deliveries_retried_total", "Attempts of this process that failed and scheduled a retry.", ["destination", "type"]);
  readonly #duration = new Histogram("pg_dispatch_attempt_duration_seconds", "How long this process's attempts took.", ["destination", "type"], BUCKETS);
  readonly #latency = new Histogram("pg_dispatch_delivery_latency_seconds", "From the publishing commit to delivered, for deliveries this process completed.", ["destination", "type"], BUCKETS);
  readonly #meter: () => MeterLike | null;
  #instruments: Instruments | null = null;
  /** By destination, then type; at most MAX_SERIES pairs (past that, every update finds its series afresh). */
  readonly #pairs = new Map<string, Map<string, Pair>>();
  #pairCount = 0;

  /** `meter` gives the OpenTelemetry meter, or null without OpenTelemetry; it is asked on each record until it gives one. */
  constructor(meter: () => MeterLike | null) {
    this.#meter = meter;
  }

  /** Counts one newly stored event. */
  published(type: string): void {
    this.#published.add([type]);
    this.#otel();
  }

  /** Counts one attempt by its outcome, with its duration and, when delivered, the commit-to-delivered latency. */
  attempt(destination: string, type: string, outcome: AttemptOutcome, seconds: number, latencySeconds: number | null): void {
    const p = this.#pair(destination, type);
    const o = this.#otel();
    this.#duration.observeInto(p.duration, seconds);
    o?.duration.record(seconds, p.attributes);
    if (outcome === "delivered") {
      (p.delivered ??= this.#delivered.series(p.labels)).value++;
      if (latencySeconds !== null) {
        this.#latency.observeInto((p.latency ??= this.#latency.series(p.labels)), latencySeconds);
        o?.latency.record(latencySeconds, p.attributes);
      }
    } else if (outcome === "failed") {
      (p.failed ??= this.#failed.series(p.labels)).value++;
    } else {
      (p.retried ??= this.#retried.series(p.labels)).value++;
    }
  }

  #pair(destination: string, type: string): Pair {
    let byType = this.#pairs.get(destination);
    let p = byType?.get(type);
    if (p) return p;
    const labels = [destination, type];
    p = { labels, attributes: { destination, type }, duration: this.#duration.series(labels), latency: null, delivered: null, failed: null, retried: null };
    if (this.#pairCount < MAX_SERIES) {
      if (!byType) this.#pairs.set(destination, (byType = new Map()));
      byType.set(type, p);
      this.#pairCount++;
    }
    return p;
  }

  /** This process's figures so far. */
  families(): MetricFamily[] {
    return [
      this.#published.family(), this.#delivered.family(), this.#failed.family(), this.#retried.family(),
      this.#duration.family(), this.#latency.family(),
    ];
  }

  /**
   * The OpenTelemetry instruments, made on first use rather than at construction: the metrics API has no proxy, so
   * a meter taken before the application registers its SDK would stay a no-op.
   */
  #otel(): Instruments | null {
    if (this.#instruments) return this.#instruments;
    const meter = this.#meter();
    if (!meter) return null;
    const advice = { explicitBucketBoundaries: [...BUCKETS] };
    const counters: Array<[Counter, string, InstrumentOptions]> = [
      [this.#published, "pg_dispatch.events.published", { description: "Events published.", unit: "{event}" }],
      [this.#delivered, "pg_dispatch.deliveries.delivered", { description: "Deliveries completed.", unit: "{delivery}" }],
      [this.#failed, "pg_dispatch.deliveries.failed", { description: "Deliveries failed for good.", unit: "{delivery}" }],
      [this.#retried, "pg_dispatch.deliveries.retried", { description: "Failed attempts that scheduled a retry.", unit: "{attempt}" }],
    ];
    for (const [counter, name, options] of counters) {
      meter.createObservableCounter(name, options).addCallback((result) => {
        for (const s of counter.samples()) result.observe(s.value, s.labels);
      });
    }
    this.#instruments = {
      duration: meter.createHistogram("pg_dispatch.attempt.duration", { description: "How long attempts took.", unit: "s", advice }),
      latency: meter.createHistogram("pg_dispatch.delivery.latency", { description: "From the publishing commit to delivered.", unit: "s", advice }),
    };
    return this.#instruments;
  }
}
