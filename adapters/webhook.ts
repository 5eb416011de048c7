/**
 * Webhook destinations: POST each event to an HTTP endpoint as a CloudEvent (HTTP protocol binding, binary or
 * structured mode), signed the Standard Webhooks way when a secret is given.
 *
 * @module
 */
import type { CloudEvent } from "cloudevents";
import type { DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, PermanentError } from "../src/errors.ts";
import { binaryMessage, type HttpMessage, structuredMessage } from "./webhook/binding.ts";
import { drainBody, failure } from "./webhook/outcome.ts";
import { checkHeaders, reservedHeaders, validateOptions, type WebhookOptions } from "./webhook/options.ts";
import { createSigner, type Signer } from "./webhook/sign.ts";

export type { WebhookHeaders, WebhookOptions } from "./webhook/options.ts";

/**
 * A destination that POSTs each event to `url`. 2xx means delivered. 3xx (redirects are not followed), 410 and other
 * 4xx fail the delivery for good, except 408 and 429; 5xx, network errors and timeouts are retried, after
 * `Retry-After` when the endpoint sends one (capped at one hour). The error message, which becomes the delivery's
 * `lastError`, names the status and quotes the start of the response body.
 *
 * @example
 * ```ts
 * import { webhook } from "pg-dispatch/webhook";
 *
 * const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // from your secret store
 * outbox.register("order.*", webhook({ url: "https://hooks.example.com/orders", secret }));
 * outbox.register("user.created", webhook({
 *   url: "https://crm.example.com/events",
 *   mode: "structured",
 *   bearerToken: () => tokens.get(),
 *   headers: (event) => ({ "x-tenant": String(event.tenant) }),
 * }));
 * ```
 */
export function webhook(options: WebhookOptions): Destination {
  const url = validateOptions(options);
  const target = url.origin + url.pathname; // never the query string: it may carry credentials
  const mode = options.mode ?? "binary";
  const timeoutMs = options.timeoutMs;
  const signer: Signer | undefined = options.secret === undefined ? undefined : createSigner(options.secret);
  const reserved = reservedHeaders(options);
  const extra = options.headers;
  const bearerToken = options.bearerToken;
  const href = url.href;

  async function requestHeaders(event: CloudEvent<unknown>, message: HttpMessage): Promise<Headers> {
    const headers = new Headers();
    let custom: Record<string, string> | undefined;
    if (typeof extra === "function") {
      try {
        custom = await extra(event);
      } catch (err) {
        throw new DeliveryError(`The headers function of webhook ${target} threw: ${describe(err)}`, { cause: err });
      }
      checkHeaders(custom, reserved, (msg) => new PermanentError(`The headers function of webhook ${target}: ${msg}`));
    } else custom = extra;
    if (bearerToken !== undefined) headers.set("authorization", `Bearer ${await token(bearerToken, target)}`);
    for (const [name, value] of Object.entries({ ...custom, ...message.headers })) headers.set(name, value);
    if (signer) {
      const signed = await signer.headers(event.id, Math.floor(Date.now() / 1000), message.body);
      for (const [name, value] of Object.entries(signed)) headers.set(name, value);
    }
    return headers;
  }

  return {
    name: options.name ?? `webhook:${target}`,
    async deliver(event: CloudEvent<unknown>, ctx: DeliveryContext): Promise<void> {
      let message: HttpMessage;
      let headers: Headers;
      try {
        message = mode === "structured" ? structuredMessage(event) : binaryMessage(event);
        headers = await requestHeaders(event, message);
        // W3C Trace Context: the receiving service continues this attempt's trace.
        if (ctx.traceparent) headers.set("traceparent", ctx.traceparent);
        if (ctx.tracestate) headers.set("tracestate", ctx.tracestate);
      } catch (err) {
        if (err instanceof DeliveryError) throw err;
        // Data JSON cannot encode, or a header value HTTP cannot carry: the same event would fail every time.
        throw new PermanentError(`Cannot build the request to ${target}: ${describe(err)}`, { cause: err });
      }

      // With a timeout of its own: one controller for both it and the worker's signal (works on every runtime, no
      // need for AbortSignal.any) that tells the two apart in the error message. Without: the worker's signal as is.
      let signal = ctx.signal;
      let timedOut = false;
      let stopTimer = (): void => {};
      if (timeoutMs !== undefined) {
        const controller = new AbortController();
        const timer = setTimeout(() => {
          timedOut = true;
          controller.abort(new DOMException(`Timed out after ${timeoutMs} ms`, "TimeoutError"));
        }, timeoutMs);
        const onAbort = (): void => controller.abort(ctx.signal.reason);
        if (ctx.signal.aborted) onAbort();
        else ctx.signal.addEventListener("abort", onAbort, { once: true });
        signal = controller.signal;
        stopTimer = () => {
          clearTimeout(timer);
          ctx.signal.removeEventListener("abort", onAbort);
        };
      }

      try {
        let res: Response;
        try {
          res = await fetch(href, { method: "POST", headers, body: message.body, redirect: "manual", signal });
        } catch (err) {
          if (timedOut) throw new DeliveryError(`No response from ${target} within ${timeoutMs} ms`, { cause: err });
          if (ctx.signal.aborted) {
            const reason = describe(ctx.signal.reason);
            throw new DeliveryError(`Delivery to ${target} was aborted: ${reason}`, { cause: err });
          }
          throw new DeliveryError(`Could not reach ${target}: ${describe(err)}`, { cause: err });
        }
        // Always read (or cancel) the body: an unread body pins the connection and defeats keep-alive.
        const snippet = await drainBody(res);
        if (res.status >= 200 && res.status < 300) return;
        throw failure(res, target, snippet);
      } finally {
        stopTimer();
      }
    },
  };
}

async function token(source: string | (() => string | Promise<string>), target: string): Promise<string> {
  if (typeof source === "string") return source;
  let value: unknown;
  try {
    value = await source();
  } catch (err) {
    throw new DeliveryError(`The bearerToken function of webhook ${target} threw: ${describe(err)}`, { cause: err });
  }
  if (typeof value !== "string" || value === "") {
    throw new DeliveryError(`The bearerToken function of webhook ${target} returned no token`);
  }
  return value;
}

/** An error's message with its causes, e.g. "fetch failed: connect ECONNREFUSED 127.0.0.1:4000". */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.includes(message)) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
