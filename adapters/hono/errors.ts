import type { Context } from "hono";
import { DispatchError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";

/** The JSON body of every error answer: `{ error: { code, message, field? } }`. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/**
 * A request the router refuses: the HTTP status, a stable code, a sentence saying what to fix, and the field at fault.
 *
 * @example
 * ```ts
 * throw new RequestError(400, "invalid_request", "limit must be a whole number.", "limit");
 * ```
 */
export class RequestError extends Error {
  readonly status: 400 | 401 | 404 | 409 | 413 | 415 | 422;
  readonly code: string;
  readonly field?: string;

  constructor(status: RequestError["status"], code: string, message: string, field?: string) {
    super(message);
    this.name = "RequestError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/**
 * The HTTP status for each error code the HTTP adapters (router and receiver) answer with: one table, so they agree.
 * `"request"` is the caller's mistake in what it sent: 422 for a body, 400 for query parameters (the caller passes
 * which). Core codes missing here are the server's failure: 500, with the details in the log.
 */
export const ERROR_STATUS = {
  // Core codes that mean "the caller sent something wrong".
  invalid_event: "request",
  invalid_data: "request",
  invalid_option: "request",
  payload_too_large: 413,
  ambiguous_id: 409,
  // The receiver's answers about a handler (adapters/receiver/answer.ts).
  refused: 422,
  unavailable: 503,
  misconfigured: 500,
  handler_failed: 500,
  internal: 500,
} as const satisfies Record<string, number | "request">;

/** A code of {@link ERROR_STATUS}. */
export type AnsweredCode = keyof typeof ERROR_STATUS;

/** The status {@link ERROR_STATUS} gives a code; `request` is the status of a request mistake here (400 or 422). */
export function statusOf(code: AnsweredCode, request: 400 | 422): number {
  const status = ERROR_STATUS[code];
  return status === "request" ? request : status;
}

function isClientCode(code: string): code is "invalid_event" | "invalid_data" | "invalid_option" | "payload_too_large" | "ambiguous_id" {
  const status = (ERROR_STATUS as Record<string, number | "request">)[code];
  return status !== undefined && (status === "request" || status < 500);
}

/**
 * Turns a core validation error into a {@link RequestError}: 413 for oversized data, 409 for an id several sources
 * share, otherwise `status` (422 for a publish body, 400 for query parameters). The field is the core's
 * `DispatchError.field`; `rename` maps it to the one the caller wrote (a `ce-` header, a batch element's attribute).
 * Anything else is rethrown untouched.
 *
 * @example
 * ```ts
 * await outbox.listEvents(filters).catch((err) => { throw refused(err, 400); });
 * ```
 */
export function refused(err: unknown, status: 400 | 422, rename: (field: string) => string = (f) => f): unknown {
  if (!(err instanceof DispatchError) || !isClientCode(err.code)) return err;
  const code = statusOf(err.code, status) as RequestError["status"];
  return new RequestError(code, err.code, err.message, err.field === undefined ? undefined : rename(err.field));
}

/**
 * The router's error handler: refusals become their 4xx JSON, auth middleware answers pass through, and anything
 * else is logged through the outbox's logger and answered with a generic 500, so SQL and stack traces stay server-side.
 *
 * @example
 * ```ts
 * app.onError((err, c) => errorResponse(err, c, outbox.logger));
 * ```
 */
export function errorResponse(err: unknown, c: Context, logger: Logger): Response {
  if (err instanceof RequestError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.field !== undefined) body.error.field = err.field;
    return c.json(body, err.status);
  }
  const refusal = refused(err, c.req.method === "GET" ? 400 : 422);
  if (refusal instanceof RequestError) return errorResponse(refusal, c, logger);
  // HTTPException (from bearerAuth or the user's own auth middleware) carries its answer.
  const response = (err as { getResponse?: () => Response } | null)?.getResponse;
  if (typeof response === "function" && typeof (err as { status?: unknown }).status === "number") {
    return response.call(err);
  }
  logger.error("outbox router: request failed", { method: c.req.method, path: c.req.path, error: err });
  const body: ErrorBody = { error: { code: "internal", message: "The request failed on the server; its log has the details." } };
  return c.json(body, statusOf("internal", 400) as 500);
}
