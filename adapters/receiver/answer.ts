import { DeliveryError, DispatchError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import { describeError } from "../cause.ts";
import { type ErrorBody, RequestError, statusOf } from "../hono/errors.ts";

/** What the receiver answers for each event of an accepted request. */
export interface Received {
  source: string;
  id: string;
  /** True when the inbox already held the event: the handler did not run again. */
  duplicate: boolean;
}

/** The 200 answer: every event handled now or before. */
export function accepted(received: Received[]): Response {
  return json(200, { received });
}

/**
 * The answer to a request that was not handled. A sender retries 5xx and gives up on 4xx (pg-dispatch's webhook
 * does), so: malformed or unauthenticated requests and a handler's {@link PermanentError} are 4xx; a handler's
 * {@link DeliveryError} with `retryAfterMs` is 503 with Retry-After; anything else the handler or the database threw
 * is a 500 whose body says nothing about it (the details go to the logger).
 */
export function refused(err: unknown, logger: Logger, what: string): Response {
  if (err instanceof RequestError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.field !== undefined) body.error.field = err.field;
    return json(err.status, body);
  }
  if (err instanceof DeliveryError && err.permanent) {
    return json(statusOf("refused", 422), { error: { code: "refused", message: `The handler refused ${what}: ${describeError(err)}` } });
  }
  if (err instanceof DeliveryError && err.retryAfterMs !== undefined) {
    const seconds = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    const body = { error: { code: "unavailable", message: `The handler asked for ${what} again in ${seconds} s.` } };
    return json(statusOf("unavailable", 422), body, { "retry-after": String(seconds) });
  }
  const invalid = err instanceof DispatchError && err.code === "invalid_option";
  logger.error(`receiver: ${what} failed; nothing was recorded, the sender will retry`, { error: err });
  const code = invalid ? "misconfigured" : "handler_failed";
  return json(statusOf(code, 422), {
    error: {
      code,
      message: "The event was not handled (nothing was recorded); send it again later. The receiver's log has the details.",
    },
  });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}
