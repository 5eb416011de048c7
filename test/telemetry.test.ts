// Observability with the real OpenTelemetry SDK: one trace from the request that published an event, through the
// publish and every attempt, into the receiving service; metrics that match what happened; GET /metrics that a real
// Prometheus text-format parser reads.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { context, createContextKey, metrics, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality, type DataPoint, type Histogram, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import parsePrometheus from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { outboxRouter } from "../adapters/hono.ts";
import { toPubSubMessage } from "../adapters/pubsub.ts";
import { webhook } from "../adapters/webhook.ts";
import { CloudEvent, DeliveryError, type Worker } from "../mod.ts";
import { prometheusText } from "../src/telemetry/prometheus.ts";
import { parseTraceParent } from "../src/telemetry/traceparent.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

const spans = new InMemorySpanExporter();
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const tracer = () => trace.getTracer("test");

/** A webhook receiver: answers each request with the next status of `script` (then 200) and keeps the headers. */
interface Receiver {
  url: string;
  requests: IncomingHttpHeaders[];
  server: Server;
}

async function receiver(script: number[] = []): Promise<Receiver> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests.push(req.headers);
      res.writeHead(script.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, requests, server };
}

let t: TestOutbox;
let worker: Worker;
const receivers: Receiver[] = [];
/** The trace of the first test, for the metrics tests to check against. */
let retried: { hook: Receiver; eventId: string };

beforeAll(async () => {
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  t = await testOutbox({ retry: { baseDelayMs: 1, maxDelayMs: 5 } });
  const hook = await receiver([500, 503]);
  receivers.push(hook);
  t.outbox.register("order.placed", webhook({ url: hook.url, name: "orders-hook" }));
  t.outbox.register("payment.failed", { name: "ledger", deliver: () => Promise.reject(new DeliveryError("ledger refused", { permanent: true })) });
  worker = t.outbox.worker({ concurrency: 4 });
  await worker.start();
  retried = { hook, eventId: "" };
});

afterAll(async () => {
  await worker?.stop();
  for (const r of receivers) r.server.close();
  await t?.drop();
});

function finished(name: string, filter: (s: ReadableSpan) => boolean = () => true): ReadableSpan[] {
  return spans.getFinishedSpans().filter((s) => s.name === name && filter(s));
}

describe("traces: one trace from the request, through the outbox, into the receiving service", () => {
  test("a delivery retried twice: three attempt spans in the request's trace, and each request carries its attempt's context", async () => {
    const { hook } = retried;
    let request!: Span;
    const event = await tracer().startActiveSpan("POST /orders", async (span) => {
      request = span;
      try {
        return await t.outbox.publishEvent({ type: "order.placed", source: "shop", data: { order: 1 } });
      } finally {
        span.end();
      }
    });
    retried.eventId = event.id;
    await waitFor(async () => (await t.outbox.getEvent(event.id))?.status === "published", "the event to be delivered");
    const traceId = request.spanContext().traceId;

    // The receiving service extracts traceparent: the request's trace, three times.
    expect(hook.requests).toHaveLength(3);
    const received = hook.requests.map((h) => parseTraceParent(h.traceparent));
    expect(received.map((p) => p?.traceId)).toEqual([traceId, traceId, traceId]);

    const [publish] = finished("publish " + t.schema, (s) => s.attributes["messaging.message.id"] === event.id);
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.spanContext().traceId).toBe(traceId);
    expect(publish.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(publish.attributes).toMatchObject({
      "messaging.system": "pg-dispatch",
      "messaging.operation.name": "publish",
      "messaging.destination.name": t.schema,
    });
    // The stored extension is the publish span's context.
    expect(parseTraceParent(event.extensions.traceparent)?.spanId).toBe(publish.spanContext().spanId);

    const attempts = finished("deliver orders-hook", (s) => s.spanContext().traceId === traceId)
      .sort((a, b) => Number(a.attributes["pg_dispatch.attempt"]) - Number(b.attributes["pg_dispatch.attempt"]));
    expect(attempts.map((s) => [s.attributes["pg_dispatch.attempt"], s.attributes["pg_dispatch.outcome"], s.status.code])).toEqual([
      [1, "retry", SpanStatusCode.ERROR],
      [2, "retry", SpanStatusCode.ERROR],
      [3, "delivered", SpanStatusCode.UNSET],
    ]);
    for (const s of attempts) {
      expect(s.kind).toBe(SpanKind.CONSUMER);
      expect(s.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
      expect(s.attributes).toMatchObject({ "pg_dispatch.destination": "orders-hook", "messaging.message.id": event.id });
    }
    expect(attempts[0].status.message).toMatch(/500/);
    // Each request's traceparent is the span of the attempt that sent it.
    expect(received.map((p) => p?.spanId)).toEqual(attempts.map((s) => s.spanContext().spanId));
  });

  test("a batch is one publish span, and every event in it carries its context", async () => {
    const events = await t.outbox.publishEvents([1, 2, 3].map((n) => ({ type: "batch.none", source: "shop", data: { n } })));
    const [span] = finished("publish " + t.schema, (s) => s.attributes["messaging.batch.message_count"] === 3);
    expect(span.kind).toBe(SpanKind.PRODUCER);
    expect(span.attributes["messaging.message.id"]).toBeUndefined();
    const spanIds = events.map((e) => parseTraceParent(e.extensions.traceparent)?.spanId);
    expect(spanIds).toEqual([1, 2, 3].map(() => span.spanContext().spanId));
  });

  test("a traceparent the producer set is kept, and the attempts continue that trace", async () => {
    const hook = await receiver();
    receivers.push(hook);
    t.outbox.register("given.trace", webhook({ url: hook.url, name: "given-hook" }));
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const event = await t.outbox.publishEvent({ type: "given.trace", source: "shop", extensions: { traceparent, tracestate: "congo=t61rcWkgMzE" } });
    expect(event.extensions.traceparent).toBe(traceparent);
    await waitFor(() => hook.requests.length === 1, "the delivery");
    expect(parseTraceParent(hook.requests[0].traceparent)?.traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(hook.requests[0].tracestate).toBe("congo=t61rcWkgMzE");
    // The binary binding still carries the stored extension as ce-traceparent.
    expect(hook.requests[0]["ce-traceparent"]).toBe(traceparent);
    // The attempt's span ends once the response is read, a moment after the receiver saw the request.
    const [attempt] = await waitFor(() => (finished("deliver given-hook").length ? finished("deliver given-hook") : null), "the attempt's span to end");
    expect(attempt.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
  });

  test("a handler's own spans are children of its attempt's span, also through a context it derives", async () => {
    const key = createContextKey("test key");
    const seen: Array<{ active?: string; derived?: string; value?: unknown; rootHasSpan: boolean }> = [];
    t.outbox.register("handler.spans", {
      name: "instrumented",
      deliver: async () => {
        const derived = context.active().setValue(key, "kept");
        seen.push({
          active: trace.getActiveSpan()?.spanContext().spanId,
          derived: trace.getSpan(derived)?.spanContext().spanId,
          value: derived.getValue(key),
          rootHasSpan: trace.getSpan(context.active().deleteValue(key)) !== undefined,
        });
        return tracer().startActiveSpan("handler work", (span) => span.end());
      },
    });
    const event = await t.outbox.publishEvent({ type: "handler.spans", source: "shop" });
    await waitFor(() => finished("handler work").length === 1, "the handler's span");
    // The attempt's span ends after the handler returns.
    await waitFor(() => finished("deliver instrumented").length === 1, "the attempt's span");
    const [attempt] = finished("deliver instrumented");
    const [work] = finished("handler work");
    expect(work.parentSpanContext?.spanId).toBe(attempt.spanContext().spanId);
    expect(work.spanContext().traceId).toBe(attempt.spanContext().traceId);
    expect(seen).toEqual([{ active: attempt.spanContext().spanId, derived: attempt.spanContext().spanId, value: "kept", rootHasSpan: true }]);
    expect(attempt.attributes).toEqual({
      "messaging.system": "pg-dispatch",
      "messaging.operation.name": "deliver",
      "messaging.destination.name": t.schema,
      "messaging.message.id": event.id,
      "pg_dispatch.destination": "instrumented",
      "pg_dispatch.attempt": 1,
      "pg_dispatch.event.type": "handler.spans",
      "pg_dispatch.outcome": "delivered",
    });
  });

  test("Pub/Sub messages carry the attempt's context as traceparent and tracestate attributes", () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const message = toPubSubMessage(new CloudEvent({ type: "x", source: "y" }), undefined, { traceparent, tracestate: "a=b" });
    expect(message.attributes).toMatchObject({ traceparent, tracestate: "a=b" });
  });

  test("telemetry: false stores, records and sends no trace context", async () => {
    const quiet = await t.another({ telemetry: false });
    const before = spans.getFinishedSpans().length;
    const event = await tracer().startActiveSpan("request", async (span) => {
      try {
        return await quiet.publishEvent({ type: "quiet.none", source: "shop" });
      } finally {
        span.end();
      }
    });
    expect(event.extensions.traceparent).toBeUndefined();
    expect(spans.getFinishedSpans().slice(before).map((s) => s.name)).toEqual(["request"]);
    await expect(t.another({ telemetry: "no" as never })).rejects.toThrow(/telemetry must be true or false/);
  });
});

/** The data points of one OpenTelemetry metric. */
async function points(name: string): Promise<DataPoint<number | Histogram>[]> {
  const { resourceMetrics } = await reader.collect();
  const found = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name);
  return found.flatMap((m) => m.dataPoints as DataPoint<number | Histogram>[]);
}

async function value(name: string, attributes: Record<string, string>): Promise<number | Histogram | undefined> {
  const all = await points(name);
  return all.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value;
}

describe("metrics: the figures match what happened", () => {
  test("counters and histograms through OpenTelemetry", async () => {
    const ledgerEvent = await t.outbox.publishEvent({ type: "payment.failed", source: "shop" });
    await waitFor(async () => (await t.outbox.getEvent(ledgerEvent.id))?.status === "failed", "the ledger delivery to fail");
    const hook = { destination: "orders-hook", type: "order.placed" };
    expect(await value("pg_dispatch.deliveries.delivered", hook)).toBe(1);
    expect(await value("pg_dispatch.deliveries.retried", hook)).toBe(2);
    expect(await value("pg_dispatch.deliveries.failed", hook)).toBeUndefined();
    expect(await value("pg_dispatch.deliveries.failed", { destination: "ledger", type: "payment.failed" })).toBe(1);
    expect(await value("pg_dispatch.events.published", { type: "order.placed" })).toBe(1);
    expect(await value("pg_dispatch.events.published", { type: "batch.none" })).toBe(3);
    expect(((await value("pg_dispatch.attempt.duration", hook)) as Histogram).count).toBe(3);
    const latency = (await value("pg_dispatch.delivery.latency", hook)) as Histogram;
    expect(latency.count).toBe(1);
    expect(latency.sum).toBeGreaterThanOrEqual(0);
  });

  test("backlog and oldest-undelivered age per destination, while a worker runs", async () => {
    const other = await testOutbox();
    try {
      other.outbox.register("audit.*", { name: "audit", deliver: () => Promise.resolve() });
      other.outbox.register("user.created", { name: "crm", deliver: () => Promise.resolve() });
      await other.outbox.publishEvents([{ type: "audit.login", source: "s" }, { type: "audit.logout", source: "s" }, { type: "user.created", source: "s" }], { notify: false });
      await other.sql.unsafe(`update "${other.schema}".events set created_at = now() - interval '90 seconds' where type = 'audit.login'`);
      // crm got its event already: it is no longer in crm's backlog, though the event is unfinished.
      await other.sql.unsafe(`update "${other.schema}".events set deliveries = '{"crm": {"status": "delivered", "attempts": 1}}' where type = 'user.created'`);
      const stop = await other.outbox.telemetry.observe();
      try {
        expect(await value("pg_dispatch.backlog", { destination: "audit" })).toBe(2);
        expect(await value("pg_dispatch.backlog", { destination: "crm" })).toBe(0);
        expect(await value("pg_dispatch.oldest_undelivered_age", { destination: "audit" })).toBeGreaterThanOrEqual(90);
      } finally {
        stop();
      }
    } finally {
      await other.drop();
    }
  });
});

describe("GET /metrics: the Prometheus text format", () => {
  type Family = { name: string; type: string; metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }> };
  const scrape = async (path: string, token?: string, options: { metricsToken?: string } = {}): Promise<Response> => {
    const app = outboxRouter(t.outbox, { auth: { token: "writer" }, ...options });
    return await app.request(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  };

  test("parses with a real parser, and shows the same figures", async () => {
    expect((await scrape("/metrics")).status).toBe(401);
    const res = await scrape("/metrics", "writer");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const families = parsePrometheus(text) as Family[];
    const family = (name: string) => families.find((f) => f.name === name)!;
    const sample = (name: string, labels: Record<string, string>) =>
      family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    const hook = { destination: "orders-hook", type: "order.placed" };
    expect(family("pg_dispatch_deliveries_retried_total").type).toBe("COUNTER");
    expect(sample("pg_dispatch_deliveries_retried_total", hook)?.value).toBe("2");
    expect(sample("pg_dispatch_deliveries_delivered_total", hook)?.value).toBe("1");
    expect(sample("pg_dispatch_deliveries_failed_total", { destination: "ledger" })?.value).toBe("1");
    expect(sample("pg_dispatch_events_published_total", { type: "batch.none" })?.value).toBe("3");
    expect(family("pg_dispatch_attempt_duration_seconds").type).toBe("HISTOGRAM");
    // This parser folds a histogram's series into one (dropping labels, _sum and _count of labelled series), so one
    // series is read on its own: its +Inf bucket counts every attempt.
    const oneSeries = text.split("\n")
      .filter((l) => l.startsWith("# ") ? l.includes("pg_dispatch_attempt_duration_seconds ") : l.startsWith("pg_dispatch_attempt_duration_seconds_bucket{destination=\"orders-hook\""))
      .join("\n");
    const [duration] = parsePrometheus(oneSeries + "\n") as Family[];
    expect(duration.metrics[0].buckets?.["+Inf"]).toBe("3");
    expect(text).toMatch(/^pg_dispatch_attempt_duration_seconds_count\{destination="orders-hook",type="order.placed"\} 3$/m);
    expect(family("pg_dispatch_backlog").type).toBe("GAUGE");
    expect(sample("pg_dispatch_backlog", { destination: "orders-hook" })?.value).toBe("0");
  });

  test("metricsToken opens /metrics alone", async () => {
    expect((await scrape("/metrics", "scraper", { metricsToken: "scraper" })).status).toBe(200);
    expect((await scrape("/metrics", "writer", { metricsToken: "scraper" })).status).toBe(401);
    expect((await scrape("/stats", "scraper", { metricsToken: "scraper" })).status).toBe(401);
  });

  test("label values with quotes, backslashes and line feeds survive the format", () => {
    const destination = 'a "quoted" \\ back\nslash';
    const text = prometheusText([{ name: "x_total", help: "Help with \\ and\nnewline.", kind: "counter", samples: [{ labels: { destination }, value: 1 }] }]);
    const [family] = parsePrometheus(text) as Family[];
    expect(family.metrics[0].labels?.destination).toBe(destination);
  });
});
