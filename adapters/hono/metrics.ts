import type { Context, TypedResponse } from "hono";
import type { Outbox } from "../../src/outbox.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "../../src/telemetry/prometheus.ts";

/**
 * The handler of `GET /metrics`: this process's counters and histograms and the backlog gauges (one query), in the
 * Prometheus text format.
 *
 * @example
 * ```ts
 * app.get("/metrics", metricsRoute(outbox));
 * ```
 */
export function metricsRoute(outbox: Outbox): (c: Context) => Promise<Response & TypedResponse<string, 200, "text">> {
  return async (c) => {
    const body = prometheusText(await outbox.telemetry.families());
    return c.text(body, 200, { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" });
  };
}
