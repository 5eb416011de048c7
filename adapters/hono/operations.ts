import type { Hono, MiddlewareHandler } from "hono";
import type { BlankEnv, Schema } from "hono/types";
import type { EventFilter } from "../../src/filter.ts";
import type { Outbox } from "../../src/outbox.ts";
import type { EventStatus } from "../../src/record.ts";
import { mediaType } from "../media.ts";
import { parseJson, readBody } from "./body.ts";
import { refused, RequestError } from "./errors.ts";

/** The body keys of `POST /retry` (a filter and `dryRun`) and `POST /replay` (the same, `destination` the target). */
const RETRY_KEYS = ["status", "type", "source", "destination", "from", "to", "id", "error", "dryRun"];
const REPLAY_KEYS = ["status", "type", "source", "from", "to", "id", "destination", "dryRun"];

/** The filter fields `POST /retry` and `POST /replay` share, as a typed client sends them. */
export interface FilterBody {
  type?: string | undefined;
  source?: string | undefined;
  /** An ISO 8601 time: events stored at or after it. */
  from?: string | undefined;
  /** An ISO 8601 time: events stored before it. */
  to?: string | undefined;
  id?: string | undefined;
  /** Only count; change nothing. */
  dryRun?: boolean | undefined;
}

/** The body of `POST /retry`. */
export interface RetryBody extends FilterBody {
  status?: "failed" | undefined;
  /** Only the failed deliveries to this destination. */
  destination?: string | undefined;
  /** Only failed deliveries whose last error is exactly this text. */
  error?: string | undefined;
}

/** The body of `POST /replay`. */
export interface ReplayBody extends FilterBody {
  status?: Extract<EventStatus, "published" | "failed"> | undefined;
  /** The one destination to send the events to. */
  destination: string;
}

/** An operation's body as the handler gets it. */
interface Operation {
  filter: EventFilter;
  dryRun: boolean;
  destination?: unknown;
}

/** Reads an operation's body (see {@link operationBody}) as a Hono validator, typed for Hono's client as `B`. */
function filterBody<B extends FilterBody>(keys: string[], maxBodyBytes: number): MiddlewareHandler<object, string, { in: { json: B }; out: { json: Operation } }> {
  return async (c, next) => {
    c.req.addValidatedData("json", await operationBody(c.req.raw, keys, maxBodyBytes));
    await next();
  };
}

/** A body of these keys, read as JSON: `from`/`to` ISO times become Dates, `dryRun` a boolean. */
async function operationBody(request: Request, keys: string[], maxBodyBytes: number): Promise<Operation> {
  if (mediaType(request.headers.get("content-type")) !== "application/json") {
    throw new RequestError(415, "unsupported_media_type", "Send the filter as application/json, e.g. {\"type\":\"order.*\",\"dryRun\":true}.", "content-type");
  }
  const body = parseJson(await readBody(request, maxBodyBytes), "body");
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new RequestError(400, "invalid_request", "The body must be a JSON object of filters, e.g. {\"type\":\"order.*\",\"dryRun\":true}.", "body");
  }
  const fields = body as Record<string, unknown>;
  const filter: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!keys.includes(key)) throw new RequestError(400, "invalid_option", `Unknown field "${key}"; expected one of: ${keys.join(", ")}.`, key);
    if (key === "dryRun" || key === "destination") continue;
    if (key === "from" || key === "to") {
      const date = typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
      if (Number.isNaN(date.getTime())) throw new RequestError(400, "invalid_option", `${key} must be an ISO 8601 time such as 2025-01-31T12:00:00Z.`, key);
      filter[key] = date;
    } else filter[key] = value;
  }
  if (fields.dryRun !== undefined && typeof fields.dryRun !== "boolean") {
    throw new RequestError(400, "invalid_option", "dryRun must be true or false.", "dryRun");
  }
  return { filter: filter as EventFilter, dryRun: fields.dryRun === true, destination: fields.destination };
}

/**
 * The operator's routes: bulk retry, replay, and pausing destinations, added to `app`'s chain so that their types
 * reach Hono's typed client. Writes go through `write` (the router's `auth`), the list of paused destinations through
 * `read`.
 *
 * @example
 * ```ts
 * const app = operationRoutes(new Hono(), outbox, { write, read }, 1_048_576);
 * ```
 */
export function operationRoutes<S extends Schema>(app: Hono<BlankEnv, S>, outbox: Outbox, guards: { write: MiddlewareHandler; read: MiddlewareHandler }, maxBodyBytes: number) {
  const { write, read } = guards;
  return app
    .post("/retry", write, filterBody<RetryBody>(RETRY_KEYS, maxBodyBytes), async (c) => {
      const { filter, dryRun, destination } = c.req.valid("json");
      const events = await outbox.retryEvents(destination === undefined ? filter : { ...filter, destination: destination as string }, { dryRun }).catch((err) => {
        throw refused(err, 400);
      });
      return c.json({ dryRun, events }, 200);
    })
    .post("/replay", write, filterBody<ReplayBody>(REPLAY_KEYS, maxBodyBytes), async (c) => {
      const { filter, dryRun, destination } = c.req.valid("json");
      const events = await outbox.replayEvents(filter, { destination: destination as string, dryRun }).catch((err) => {
        throw refused(err, 400);
      });
      return c.json({ dryRun, destination: destination as string, events }, 200);
    })
    .post("/destinations/:name/pause", write, async (c) => {
      const name = c.req.param("name");
      await outbox.pauseDestination(name).catch((err) => {
        throw refused(err, 400);
      });
      const pausedAt = (await outbox.pausedDestinations()).find((d) => d.name === name)?.pausedAt ?? null;
      return c.json({ destination: name, paused: true as const, pausedAt }, 200);
    })
    .post("/destinations/:name/resume", write, async (c) => {
      const name = c.req.param("name");
      const resumed = await outbox.resumeDestination(name).catch((err) => {
        throw refused(err, 400);
      });
      return c.json({ destination: name, resumed }, 200);
    })
    .get("/destinations/paused", read, async (c) => c.json({ paused: await outbox.pausedDestinations() }, 200));
}
