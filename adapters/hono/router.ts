import { Hono, type MiddlewareHandler } from "hono";
import type { Outbox } from "../../src/outbox.ts";
import type { EventStatus, PublishedEvent } from "../../src/record.ts";
import { type ErrorBody, errorResponse, refused, RequestError } from "./errors.ts";
import { metricsRoute } from "./metrics.ts";
import { openApiDocument, type OpenApiOptions } from "./openapi.ts";
import { operationRoutes } from "./operations.ts";
import { publishBody, type PublishLimits } from "./parse.ts";
import { booleanParam, type EventQuery, type ListQuery, queryParams, type SourceQuery, wholeParam } from "./query.ts";
import type { BatchResult } from "./routes.ts";

const LIST_PARAMS: (keyof ListQuery)[] = ["status", "type", "source", "limit", "cursor", "data"];

/** How the routes are guarded and bounded, from the router's checked options. */
export interface RouteSettings {
  /** Guards publishing and the operations. */
  write: MiddlewareHandler;
  /** Guards the status routes. */
  read: MiddlewareHandler;
  /** Guards `GET /metrics`. */
  metrics: MiddlewareHandler;
  limits: PublishLimits;
  healthTimeoutMs: number;
  /** What `GET /openapi.json` states, apart from where the router is mounted. */
  documented: Omit<OpenApiOptions, "basePath">;
}

/**
 * The routes, as one chain so that Hono infers their types; `OutboxRouter` (routes.ts) spells the result out, and
 * test/fixtures/hono-client-types.ts checks that the two agree.
 */
export function routes(outbox: Outbox, settings: RouteSettings) {
  const { write, read, metrics, limits, healthTimeoutMs, documented } = settings;
  const app = new Hono()
    .post("/events", write, publishBody(limits), async (c) => {
      const request = c.req.valid("json");
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
    })
    .get("/events", read, queryParams<ListQuery>(LIST_PARAMS), async (c) => {
      const { status, data, limit, ...filters } = c.req.valid("query");
      const page = await outbox.listEvents({
        ...filters,
        status: status as EventStatus | undefined, // checked by listEvents
        limit: limit === undefined ? undefined : wholeParam(limit, "limit"),
        data: data === undefined ? undefined : booleanParam(data, "data"),
      }).catch((err) => {
        throw refused(err, 400);
      });
      return c.json(page, 200);
    })
    .get("/events/:id", read, queryParams<EventQuery>(["source", "history"]), async (c) => {
      const { source, history } = c.req.valid("query");
      const options = { source, history: history === undefined ? undefined : booleanParam(history, "history") };
      const event = await outbox.getEvent(c.req.param("id"), options).catch((err) => {
        throw refused(err, 400);
      });
      if (!event) throw notFound(c.req.param("id"), source);
      return c.json(event, 200);
    })
    .post("/events/:id/retry", write, queryParams<SourceQuery>(["source"]), async (c) => {
      const { source } = c.req.valid("query");
      const event = await outbox.retryEvent(c.req.param("id"), { source }).catch((err) => {
        throw refused(err, 400);
      });
      if (!event) throw notFound(c.req.param("id"), source);
      return c.json(event, 200);
    });
  return operationRoutes(app, outbox, { write, read }, limits.maxBodyBytes)
    .get("/stats", read, async (c) => c.json(await outbox.stats(), 200))
    .get("/health", read, async (c) => {
      try {
        await withTimeout(Promise.resolve(outbox.sql`select 1`), healthTimeoutMs);
        return c.json({ status: "ok" as const }, 200);
      } catch (err) {
        outbox.logger.warn("outbox router: health check failed", { error: err });
        const body: ErrorBody & { status: "unavailable" } = {
          status: "unavailable",
          error: { code: "database_unreachable", message: "The database did not answer; the server log has the details." },
        };
        return c.json(body, 503);
      }
    })
    .get("/metrics", metrics, metricsRoute(outbox))
    .get("/openapi.json", read, (c) => {
      const basePath = c.req.path.slice(0, -"/openapi.json".length);
      return c.json(openApiDocument({ basePath, ...documented }), 200);
    })
    .onError((err, c) => errorResponse(err, c, outbox.logger));
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
