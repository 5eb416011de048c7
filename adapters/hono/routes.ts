import type { Hono } from "hono";
import type { BlankEnv, ToSchema, TypedResponse } from "hono/types";
import type { JSONParsed } from "hono/utils/types";
import type { EventInput } from "../../src/event.ts";
import type { EventPage } from "../../src/outbox.ts";
import type { EventRecord, PublishedEvent } from "../../src/record.ts";
import type { Stats } from "../../src/store/stats.ts";
import type { ErrorBody } from "./errors.ts";
import type { ReplayBody, RetryBody } from "./operations.ts";
import type { EventQuery, ListQuery, SourceQuery } from "./query.ts";

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

/** A JSON answer as Hono's typed client sees it: dates become strings. */
type Json<T, Status extends 200 | 201 | 503> = TypedResponse<JSONParsed<T>, Status, "json">;

/** What the publish route reads: the typed client's `json`, the handler's parsed request. */
type PublishInput = { in: { json: EventInput | EventInput[] } };

/**
 * The routes of {@link OutboxRouter}, with what each takes and answers, in the form Hono's typed client (`hc`) reads.
 * Error answers (`{ error: { code, message, field? } }`, see {@link ErrorBody}) come from the router's error handler
 * and are not listed per route.
 */
export type OutboxRoutes =
  & ToSchema<"post", "/events", PublishInput, Json<BatchResult, 200 | 201> | Json<PublishedEvent, 200 | 201>>
  & ToSchema<"get", "/events", { in: { query: ListQuery } }, Json<EventPage, 200>>
  & ToSchema<"get", "/events/:id", { in: { query: EventQuery } }, Json<EventRecord, 200>>
  & ToSchema<"post", "/events/:id/retry", { in: { query: SourceQuery } }, Json<EventRecord, 200>>
  & ToSchema<"post", "/retry", { in: { json: RetryBody } }, Json<{ dryRun: boolean; events: number }, 200>>
  & ToSchema<"post", "/replay", { in: { json: ReplayBody } }, Json<{ dryRun: boolean; destination: string; events: number }, 200>>
  & ToSchema<"post", "/destinations/:name/pause", object, Json<{ destination: string; paused: true; pausedAt: Date | null }, 200>>
  & ToSchema<"post", "/destinations/:name/resume", object, Json<{ destination: string; resumed: boolean }, 200>>
  & ToSchema<"get", "/destinations/paused", object, Json<{ paused: Array<{ name: string; pausedAt: Date }> }, 200>>
  & ToSchema<"get", "/stats", object, Json<Stats, 200>>
  & ToSchema<"get", "/health", object, Json<{ status: "ok" }, 200> | Json<ErrorBody & { status: "unavailable" }, 503>>
  & ToSchema<"get", "/metrics", object, TypedResponse<string, 200, "text">>
  & ToSchema<"get", "/openapi.json", object, Json<Record<string, unknown>, 200>>;

/**
 * What {@link outboxRouter} returns: a Hono app whose type carries every route, so that Hono's typed client works on
 * it (`hc<OutboxRouter>(url)`, or `hc<typeof app>` for an app that mounts it with `app.route`).
 */
export type OutboxRouter = Hono<BlankEnv, OutboxRoutes, "/">;
