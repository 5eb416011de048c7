/**
 * An HTTP face for an outbox: a Hono router that publishes events (plain JSON, CloudEvents in structured or binary
 * mode, batches) and reports their status. Mount it in any Hono app on Deno, Bun or Node.
 *
 * @module
 */
import type { Context } from "hono";
import { DispatchError } from "../src/errors.ts";
import type { Outbox } from "../src/outbox.ts";
import { assertKnownKeys, optionsObject, wholeNumber } from "../src/options.ts";
import { authMiddleware, type RouterAuth } from "./hono/auth.ts";
import { routes } from "./hono/router.ts";
import type { OutboxRouter } from "./hono/routes.ts";

export type { RouterAuth } from "./hono/auth.ts";
export type { ErrorBody } from "./hono/errors.ts";
export type { FilterBody, ReplayBody, RetryBody } from "./hono/operations.ts";
export type { EventQuery, ListQuery, SourceQuery } from "./hono/query.ts";
export type { BatchResult, BatchResultEvent, OutboxRouter, OutboxRoutes } from "./hono/routes.ts";

/**
 * The router's limits when its options do not say (the body size in bytes, events per batch, the health check's wait
 * in milliseconds).
 *
 * @example
 * ```ts
 * outboxRouter(outbox, { auth, maxBatchEvents: ROUTER_DEFAULTS.maxBatchEvents * 2 });
 * ```
 */
export const ROUTER_DEFAULTS: Readonly<{ maxBodyBytes: number; maxBatchEvents: number; healthTimeoutMs: number }> = Object.freeze({
  maxBodyBytes: 1_048_576,
  maxBatchEvents: 1000,
  healthTimeoutMs: 5_000,
});

/** Options of {@link outboxRouter}. */
export interface OutboxRouterOptions {
  /**
   * Required. Guards publishing and retrying, and the read routes too unless `readAuth` is given:
   * `{ token }` (a string, or several to rotate them), `{ verifyToken(token, c) }`, any Hono middleware, or an explicit
   * `false` for no authentication (only behind a gateway that authenticates for you).
   */
  auth: RouterAuth;
  /**
   * Guards the read routes (`GET /events`, `GET /events/:id`, `GET /stats`, `GET /health`, `GET /openapi.json`)
   * instead of `auth`, in the same forms. A token here can read but not publish; list the publish token here too if it
   * should also read.
   */
  readAuth?: RouterAuth | undefined;
  /** The largest request body accepted, in bytes; larger ones get 413. Default 1 MiB (1048576). */
  maxBodyBytes?: number | undefined;
  /** The most events one batch request may publish; larger batches get 413. Default 1000. */
  maxBatchEvents?: number | undefined;
  /** How long `GET /health` waits for the database before answering 503, in milliseconds. Default 5000. */
  healthTimeoutMs?: number | undefined;
  /**
   * A bearer token (or several) for `GET /metrics` alone, for a Prometheus scraper: then only it opens that route.
   * Without it, `/metrics` is guarded like the other read routes.
   */
  metricsToken?: string | readonly string[] | undefined;
}

const OPTION_KEYS = ["auth", "readAuth", "maxBodyBytes", "maxBatchEvents", "healthTimeoutMs", "metricsToken"] as const;

/**
 * A Hono router over an outbox. Routes, relative to where you mount it:
 * `POST /events` (publish: plain JSON, `application/cloudevents+json`, `application/cloudevents-batch+json`, or a
 * binary-mode CloudEvent; answers 201 with the stored event, or 200 when its source + id was already stored, carrying
 * `duplicate`; a batch answers `{ events: [{ index, id, source, duplicate }] }`), `GET /events/:id` (`?history=true`
 * adds the attempt history), `GET /events`
 * (`?data=false` for a list without data; a page also ends at about 4 MiB of data), `POST /events/:id/retry`,
 * `POST /retry` and `POST /replay` (a JSON filter with `dryRun`; replay names its `destination`), `POST
 * /destinations/:name/pause` and `/resume`, `GET /destinations/paused`, `GET /stats`, `GET /health`,
 * `GET /openapi.json`, `GET /metrics` (Prometheus text format). Errors answer `{ error: { code, message, field? } }`: 400 for a malformed request or query,
 * 401 without a valid token, 404 for an unknown event, 409 for an id several sources share, 413 over the size or batch limit,
 * 415 for a content type it cannot store, 422 for an invalid event, 500 (details only in `outbox.logger`) otherwise.
 * The returned type carries every route ({@link OutboxRoutes}), so Hono's typed client works on it:
 * `hc<typeof app>(url).outbox.events.$post({ json: { type, source, data } })`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { outboxRouter } from "pg-dispatch/hono";
 *
 * const app = new Hono();
 * app.route("/outbox", outboxRouter(outbox, {
 *   auth: { token: process.env.OUTBOX_TOKEN! },                                   // publish and retry
 *   readAuth: { token: [process.env.OUTBOX_TOKEN!, process.env.DASHBOARD_TOKEN!] }, // status routes
 * }));
 * ```
 */
export function outboxRouter(outbox: Outbox, options: OutboxRouterOptions): OutboxRouter {
  if (!outbox || typeof (outbox as Partial<Outbox>).publishEvents !== "function") {
    throw new DispatchError("invalid_option", "outboxRouter(outbox, options) needs an Outbox as its first argument.");
  }
  const o = optionsObject(options, "outboxRouter");
  assertKnownKeys(o, OPTION_KEYS, "outboxRouter options");
  if (!("auth" in o)) {
    throw new DispatchError(
      "invalid_option",
      "outboxRouter needs an auth option: { token: \"...\" }, { verifyToken(token, c) }, a Hono middleware, or auth: false to serve without authentication.",
    );
  }
  const write = authMiddleware(o.auth, "auth") ?? pass;
  const read = (o.readAuth === undefined ? authMiddleware(o.auth, "auth") : authMiddleware(o.readAuth, "readAuth")) ?? pass;
  const metrics = o.metricsToken === undefined ? read : authMiddleware({ token: o.metricsToken }, "metricsToken")!;
  const limits = {
    maxBodyBytes: wholeNumber(o.maxBodyBytes, "maxBodyBytes", 1, ROUTER_DEFAULTS.maxBodyBytes),
    maxBatchEvents: wholeNumber(o.maxBatchEvents, "maxBatchEvents", 1, ROUTER_DEFAULTS.maxBatchEvents),
  };
  const healthTimeoutMs = wholeNumber(o.healthTimeoutMs, "healthTimeoutMs", 1, ROUTER_DEFAULTS.healthTimeoutMs);
  const documented = {
    securePublish: o.auth !== false,
    secureRead: (o.readAuth === undefined ? o.auth : o.readAuth) !== false,
    catalog: outbox.events,
    ...limits,
  };
  return routes(outbox, { write, read, metrics, limits, healthTimeoutMs, documented });
}

/** The guard for `auth: false`. */
async function pass(_c: Context, next: () => Promise<void>): Promise<void> {
  await next();
}
