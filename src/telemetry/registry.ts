/**
 * The process's own counters and histograms, kept beside the OpenTelemetry instruments so that `GET /metrics` works
 * without OpenTelemetry installed. Each figure counts what this process did since it started (Prometheus sums the
 * processes); a map lookup and an addition per update.
 */

/** The most label combinations one metric keeps; further ones are counted under "other" so memory stays bounded. */
export const MAX_SERIES = 1000;
const OTHER = "other";

/** One labelled value of a counter or gauge. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** One labelled histogram: `counts[i]` observations fell in bucket i (not cumulative; the last bucket is +Inf). */
export interface HistogramSample {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
}

/** A metric with its samples, ready to write out. */
export type MetricFamily =
  | { name: string; help: string; kind: "counter" | "gauge"; samples: Sample[] }
  | { name: string; help: string; kind: "histogram"; bounds: readonly number[]; samples: HistogramSample[] };

function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]] = values[i];
  return labels;
}

/** A slot for these label values: the existing one, a new one, or (past MAX_SERIES) the shared "other" one. */
function slot<T>(map: Map<string, T>, values: readonly string[], make: (values: readonly string[]) => T): T {
  const key = values.length === 1 ? values[0] : values.join("\u0000");
  let found = map.get(key);
  if (found === undefined) {
    if (map.size >= MAX_SERIES) return slot(map, values.map(() => OTHER), make);
    found = make(values);
    map.set(key, found);
  }
  return found;
}

/**
 * A monotonic counter with fixed label names.
 *
 * @example
 * ```ts
 * const delivered = new Counter("pg_dispatch_deliveries_delivered_total", "Deliveries that succeeded.", ["destination", "type"]);
 * delivered.add(["audit", "user.created"]);
 * ```
 */
export class Counter {
  readonly #series = new Map<string, Sample>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  add(values: readonly string[], n = 1): void {
    this.series(values).value += n;
  }

  /** The sample for these label values, to add to directly (`sample.value += 1`) on a hot path. */
  series(values: readonly string[]): Sample {
    return slot(this.#series, values, (v) => ({ labels: labelsOf(this.labelNames, v), value: 0 }));
  }

  family(): MetricFamily {
    return { name: this.name, help: this.help, kind: "counter", samples: [...this.#series.values()].map((s) => ({ ...s })) };
  }

  /** Every labelled value as it stands (not copied: for reading at once). */
  samples(): IterableIterator<Sample> {
    return this.#series.values();
  }
}

/**
 * A histogram with fixed buckets (upper bounds, ascending) and label names.
 *
 * @example
 * ```ts
 * const duration = new Histogram("pg_dispatch_attempt_duration_seconds", "How long attempts took.", ["destination"], [0.1, 1]);
 * duration.observe(["audit"], 0.05);
 * ```
 */
export class Histogram {
  readonly #series = new Map<string, HistogramSample>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly bounds: readonly number[]) {}

  observe(values: readonly string[], value: number): void {
    this.observeInto(this.series(values), value);
  }

  /** The series for these label values, for {@link observeInto} on a hot path. */
  series(values: readonly string[]): HistogramSample {
    return slot(this.#series, values, (v) => ({ labels: labelsOf(this.labelNames, v), counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
  }

  /** Records one value in a series this histogram made. */
  observeInto(s: HistogramSample, value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  family(): MetricFamily {
    const samples = [...this.#series.values()].map((s) => ({ ...s, counts: [...s.counts] }));
    return { name: this.name, help: this.help, kind: "histogram", bounds: this.bounds, samples };
  }
}
