import type { MiddlewareHandler } from "hono";
import type { EventStatus } from "../../src/record.ts";
import { RequestError } from "./errors.ts";

/** The query of `GET /events`, as a typed client sends it. */
export interface ListQuery {
  status?: EventStatus | undefined;
  type?: string | undefined;
  source?: string | undefined;
  /** A whole number, as text. */
  limit?: string | undefined;
  cursor?: string | undefined;
  /** `"false"` for a list without data. */
  data?: "true" | "false" | undefined;
}

/** The query of `GET /events/:id`. */
export interface EventQuery {
  source?: string | undefined;
  /** `"true"` adds the attempt history. */
  history?: "true" | "false" | undefined;
}

/** The query of `POST /events/:id/retry`. */
export interface SourceQuery {
  source?: string | undefined;
}

/**
 * Query parameters as single strings, refusing unknown and repeated ones (a typo must not widen a filter silently),
 * as a Hono validator: the handler reads them with `c.req.valid("query")`, and Hono's typed client knows them.
 *
 * @example
 * ```ts
 * app.get("/events/:id", queryParams<EventQuery>(["source", "history"]), (c) => c.json(c.req.valid("query")));
 * ```
 */
export function queryParams<Q extends object>(
  allowed: readonly (keyof Q & string)[],
): MiddlewareHandler<object, string, { in: { query: Q }; out: { query: { [K in keyof Q]?: string } } }> {
  return async (c, next) => {
    const out: Record<string, string> = {};
    for (const [name, values] of Object.entries(c.req.queries())) {
      if (!(allowed as readonly string[]).includes(name)) {
        throw new RequestError(400, "invalid_request", `Unknown query parameter "${name}"; expected one of: ${allowed.join(", ")}.`, name);
      }
      if (values.length > 1) throw new RequestError(400, "invalid_request", `Query parameter "${name}" is given ${values.length} times; give it once.`, name);
      out[name] = values[0];
    }
    c.req.addValidatedData("query", out);
    await next();
  };
}

/** A whole-number query parameter, or 400 naming it. */
export function wholeParam(value: string, name: string): number {
  if (!/^[0-9]{1,9}$/.test(value)) {
    throw new RequestError(400, "invalid_option", `${name} must be a whole number, got ${JSON.stringify(value)}.`, name);
  }
  return Number(value);
}

/** A true/false query parameter, or 400 naming it. */
export function booleanParam(value: string, name: string): boolean {
  if (value === "true" || value === "false") return value === "true";
  throw new RequestError(400, "invalid_option", `${name} must be true or false, got ${JSON.stringify(value)}.`, name);
}
