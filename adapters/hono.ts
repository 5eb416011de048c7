/**
 * An HTTP face for an outbox: a Hono router that publishes events (plain JSON, CloudEvents in structured or binary
 * mode, batches) and reports their status. Mount it in any Hono app on Deno, Bun or Node.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { DispatchError } from "../src/errors.ts";
import type { Outbox } from "../src/outbox.ts";
import type { PublishedEvent } from "../src/record.ts";
import { assertKnownKeys, optionsObject, wholeNumber } from "../src/options.ts";
import { authMiddleware, type RouterAuth } from "./hono/auth.ts";
import { errorResponse, refused, RequestError } from "./hono/errors.ts";
import { openApiDocument } from "./hono/openapi.ts";
import { operationRoutes } from "./hono/operations.ts";
import { parsePublish } from "./hono/parse.ts";
import { metricsRoute } from "./hono/metrics.ts";

export type { RouterAuth } from "./hono/auth.ts";
export type { ErrorBody } from "./hono/errors.ts";

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
const LIST_PARAMS = ["status", "type", "source", "limit", "cursor", "data"];

/** What `POST /events` answers for a batch: one entry per event, in request order. */
export interface BatchResult {
  events: BatchResultEvent[];
}

/** One event of a {@link BatchResult}: where it was in the batch, its identity, and whether it was stored before. */
export interface BatchResultEvent {
  /** Its position in the request, from 0. */
  index: number;
  id: string;
  source: string;
  /** True when this source + id was already stored: nothing new was written. */
  duplicate: boolean;
}

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
export function outboxRouter(outbox: Outbox, options: OutboxRouterOptions): Hono {
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
  const secureRead = (o.readAuth === undefined ? o.auth : o.readAuth) !== false;
  const maxBodyBytes = wholeNumber(o.maxBodyBytes, "maxBodyBytes", 1, 1_048_576);
  const maxBatchEvents = wholeNumber(o.maxBatchEvents, "maxBatchEvents", 1, 1000);
  const healthTimeoutMs = wholeNumber(o.healthTimeoutMs, "healthTimeoutMs", 1, 5_000);

  const app = new Hono();
  app.onError((err, c) => errorResponse(err, c, outbox.logger));

  app.post("/events", write, async (c) => {
    const request = await parsePublish(c.req.raw, { maxBodyBytes, maxBatchEvents });
    // A single event goes through publishEvent so that its errors name `type`, not `[0].type`.
    const publishing: Promise<PublishedEvent[]> = request.batch
      ? outbox.publishEvents(request.inputs)
      : outbox.publishEvent(request.inputs[0]).then((event) => [event]);
    const events = await publishing.catch((err) => {
      throw refused(err, 422, request.rename);
    });
    // 201 when anything was stored; 200 when every event was already there (an empty batch stores nothing either).
    const status = events.some((e) => !e.duplicate) ? 201 : 200;
    // A batch answers who is who, not every record again: the caller has the data it just sent.
    if (request.batch) {
      const result: BatchResult = { events: events.map((e, index) => ({ index, id: e.id, source: e.source, duplicate: e.duplicate })) };
      return c.json(result, status);
    }
    const [event] = events;
    c.header("Location", `${c.req.path}/${encodeURIComponent(event.id)}?source=${encodeURIComponent(event.source)}`);
    return c.json(event, status);
  });

  app.get("/events", read, async (c) => {
    const { data, ...filters } = singleParams(c, LIST_PARAMS);
    const limit = filters.limit === undefined ? undefined : wholeParam(filters.limit, "limit");
    const page = await outbox.listEvents({ ...filters, limit, data: data === undefined ? undefined : booleanParam(data, "data") }).catch((err) => {
      throw refused(err, 400);
    });
    return c.json(page);
  });

  app.get("/events/:id", read, async (c) => {
    const { source, history } = singleParams(c, ["source", "history"]);
    const options = { source, history: history === undefined ? undefined : booleanParam(history, "history") };
    const event = await outbox.getEvent(c.req.param("id"), options).catch((err) => {
      throw refused(err, 400);
    });
    if (!event) throw notFound(c.req.param("id"), source);
    return c.json(event);
  });

  app.post("/events/:id/retry", write, async (c) => {
    const { source } = singleParams(c, ["source"]);
    const event = await outbox.retryEvent(c.req.param("id"), { source }).catch((err) => {
      throw refused(err, 400);
    });
    if (!event) throw notFound(c.req.param("id"), source);
    return c.json(event);
  });

  operationRoutes(app, outbox, { write, read }, maxBodyBytes);

  app.get("/stats", read, async (c) => c.json(await outbox.stats()));

  app.get("/health", read, async (c) => {
    try {
      await withTimeout(Promise.resolve(outbox.sql`select 1`), healthTimeoutMs);
      return c.json({ status: "ok" });
    } catch (err) {
      outbox.logger.warn("outbox router: health check failed", { error: err });
      return c.json(
        { status: "unavailable", error: { code: "database_unreachable", message: "The database did not answer; the server log has the details." } },
        503,
      );
    }
  });

  app.get("/metrics", o.metricsToken === undefined ? read : authMiddleware({ token: o.metricsToken }, "metricsToken")!, metricsRoute(outbox));

  app.get("/openapi.json", read, (c) => {
    const basePath = c.req.path.slice(0, -"/openapi.json".length);
    return c.json(openApiDocument({ basePath, securePublish: o.auth !== false, secureRead, catalog: outbox.events }));
  });

  return app;
}

/** The guard for `auth: false`. */
async function pass(_c: Context, next: () => Promise<void>): Promise<void> {
  await next();
}

/** Query parameters as single strings, refusing unknown and repeated ones: a typo must not widen a filter silently. */
function singleParams(c: Context, allowed: string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (!allowed.includes(name)) {
      throw new RequestError(400, "invalid_request", `Unknown query parameter "${name}"; expected one of: ${allowed.join(", ")}.`, name);
    }
    if (values.length > 1) throw new RequestError(400, "invalid_request", `Query parameter "${name}" is given ${values.length} times; give it once.`, name);
    out[name] = values[0];
  }
  return out;
}

function wholeParam(value: string, name: string): number {
  if (!/^[0-9]{1,9}$/.test(value)) {
    throw new RequestError(400, "invalid_option", `${name} must be a whole number, got ${JSON.stringify(value)}.`, name);
  }
  return Number(value);
}

function booleanParam(value: string, name: string): boolean {
  if (value === "true" || value === "false") return value === "true";
  throw new RequestError(400, "invalid_option", `${name} must be true or false, got ${JSON.stringify(value)}.`, name);
}

function notFound(id: string, source: string | undefined): RequestError {
  const from = source === undefined ? "" : ` from source "${source}"`;
  return new RequestError(404, "not_found", `No event with id "${id}"${from}.`, "id");
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  promise.catch(() => {}); // settles after the timeout answered; nobody waits for it then
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
