// The OpenTelemetry SDK as an application would set it up, exporting to nowhere: the bench measures what recording
// spans and metrics costs the worker, not what an exporter costs.
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";

const noSpans: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};
const noMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  shutdown: async () => {},
  forceFlush: async () => {},
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

/** Registers a tracer and a meter provider globally (batching spans; collecting metrics every minute, the default). */
export function startSdk(): { shutdown(): Promise<void> } {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(noSpans)] });
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: noMetrics, exportIntervalMillis: 60000 })] });
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  // An instrumented application enters a context on every request it serves, which switches on Node's async hooks
  // for the whole process (AsyncLocalStorage enables them on first use). Do that once here, so that "telemetry: false"
  // carries that cost too: the figures then compare what pg-dispatch adds, not what the application's setup costs.
  context.with(context.active(), () => {});
  return {
    async shutdown() {
      trace.disable();
      metrics.disable();
      context.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
