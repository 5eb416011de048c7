// What one attempt's telemetry costs in CPU, split into the OpenTelemetry SDK's parts and pg-dispatch's own, with no
// database: the dispatch figure says how much telemetry costs, this says where it goes.
//   tsc -p tsconfig.build.json && node dist/bench/telemetry-cost.js     (about 30 s)
// The SDK is set up as in bench/peers/otel.ts. Each case runs in rounds, alternating with the others so that a change
// in the machine's load lands on all of them; the figures are the medians and minimums of the rounds.
import { context, metrics, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { CloudEvent } from "cloudevents";
import type { Query } from "../src/client.ts";
import type { Logger } from "../src/logger.ts";
import type { Registry } from "../src/registry.ts";
import type { Schema } from "../src/schema.ts";
import { Telemetry } from "../src/telemetry.ts";
import { BUCKETS } from "../src/telemetry/metrics.ts";
import { startSdk } from "./peers/otel.ts";
import { median } from "./support.ts";

const ROUNDS = 8;
const PER_ROUND = 50_000;

const sdk = startSdk();
const deps = { schema: { name: "bench" } as Schema, query: null as unknown as Query, registry: null as unknown as Registry, logger: null as unknown as Logger };
const on = new Telemetry(true, deps);
const off = new Telemetry(false, deps);
await on.ready();
const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const events = Array.from({ length: 1000 }, (_, i) => new CloudEvent({ id: `p${i}`, type: "user.created", source: "bench", data: { i } }));
const traced = events.map((e) => e.cloneWith({ traceparent: parent }));

const tracer = trace.getTracer("bench");
const meter = metrics.getMeter("bench");
const histogram = meter.createHistogram("bench.duration", { unit: "s", advice: { explicitBucketBoundaries: [...BUCKETS] } });
const attributes = { destination: "first", type: "user.created" };
const activeSpan = tracer.startSpan("active");

/** One attempt's telemetry as src/worker/dispatch.ts drives it, around a delivery that resolves at once. */
async function attempt(t: Telemetry, list: CloudEvent<unknown>[], i: number): Promise<void> {
  const event = list[i % list.length];
  const trace = t.attempt(event, "first", 1);
  const started = Date.now();
  await t.within(trace, () => Promise.resolve());
  t.attempted(trace, "first", event.type, "delivered", started, Date.now(), started - 5, null, null);
}

const cases: Record<string, (i: number) => unknown> = {
  "pg-dispatch attempt, telemetry: false": (i) => attempt(off, events, i),
  "pg-dispatch attempt, telemetry on": (i) => attempt(on, events, i),
  "... with a stored traceparent": (i) => attempt(on, traced, i),
  "SDK: span start + 8 attributes + end": (i) => {
    const span = tracer.startSpan("deliver first", {
      kind: SpanKind.CONSUMER,
      attributes: { "messaging.system": "pg-dispatch", "messaging.operation.name": "deliver", "messaging.destination.name": "bench", "pg_dispatch.destination": "first" },
    }, ROOT_CONTEXT);
    span.setAttribute("messaging.message.id", events[i % 1000].id);
    span.setAttribute("pg_dispatch.attempt", 1);
    span.setAttribute("pg_dispatch.event.type", "user.created");
    span.setAttribute("pg_dispatch.outcome", "delivered");
    span.end();
  },
  "SDK: 2 histogram records, 2 attributes": () => {
    histogram.record(0.001, attributes);
    histogram.record(0.005, attributes);
  },
  "SDK: 2 histogram records, no attributes": () => {
    histogram.record(0.001);
    histogram.record(0.005);
  },
  "API: context.with(setSpan(active, span))": () => context.with(trace.setSpan(context.active(), activeSpan), () => Promise.resolve()),
};

async function run(fn: (i: number) => unknown, n: number): Promise<void> {
  const batch: unknown[] = [];
  for (let i = 0; i < n; i++) {
    batch.push(fn(i));
    // Like the worker: a batch of attempts in flight at once, then the next.
    if (batch.length === 500) {
      await Promise.all(batch);
      batch.length = 0;
    }
  }
  await Promise.all(batch);
}

const results = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
for (const fn of Object.values(cases)) await run(fn, PER_ROUND / 2);
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(cases)) {
    const before = process.cpuUsage();
    await run(fn, PER_ROUND);
    const used = process.cpuUsage(before);
    results.get(name)!.push((used.user + used.system) / PER_ROUND);
  }
}
await sdk.shutdown();
console.log(`CPU per attempt (us), ${ROUNDS} rounds of ${PER_ROUND.toLocaleString("en-US")}, Node ${process.version}\n`);
console.log("| case | median | min |\n|---|--:|--:|");
for (const [name, us] of results) console.log(`| ${name} | ${median(us).toFixed(2)} | ${Math.min(...us).toFixed(2)} |`);
