/**
 * Webhook destinations: POST each event to an HTTP endpoint as a CloudEvent (HTTP protocol binding, binary or
 * structured mode), signed the Standard Webhooks way when a secret is given.
 *
 * @module
 */
import type { CloudEvent } from "cloudevents";
import type { DeliveryContext, DeliveryReceipt, Destination } from "../src/destination.ts";
import { DeliveryError, PermanentError } from "../src/errors.ts";
import { storable } from "../src/text.ts";
import { describeError } from "./cause.ts";
import { isCloudEventsMediaType, isJsonMediaType } from "./media.ts";
import { binaryMessage, type HttpMessage, structuredMessage } from "./webhook/binding.ts";
import { drainBody, failure } from "./webhook/outcome.ts";
import { checkHeaders, headerProblem, reservedHeaders, validateOptions, type WebhookOptions } from "./webhook/options.ts";
import { redact, shownUrl, urlSecrets } from "./webhook/redact.ts";
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
  const target = shownUrl(url); // never the path or the query string: they may carry credentials
  const mode = options.mode ?? "binary";
  const jsonOnly = options.contentTypes === "json";
  const timeoutMs = options.timeoutMs;
  const signer: Signer | undefined = options.secret === undefined ? undefined : createSigner(options.secret);
  const reserved = reservedHeaders(options);
  const extra = options.headers;
  const bearerToken = options.bearerToken;
  const href = url.href;
  // Everything configured that may be a credential, scrubbed from every message this destination produces.
  const configured = [
    ...urlSecrets(url),
    ...(typeof options.secret === "string" ? [options.secret] : options.secret ?? []),
    ...(typeof bearerToken === "string" ? [bearerToken] : []),
    ...(typeof extra === "object" ? Object.values(extra) : []),
  ];

  /** The request's headers; every value that may be a credential is added to `secrets` as soon as it is known. */
  async function requestHeaders(event: CloudEvent<unknown>, message: HttpMessage, secrets: string[]): Promise<Headers> {
    let custom: Record<string, string> | undefined;
    if (typeof extra === "function") {
      try {
        custom = await extra(event);
      } catch (err) {
        throw new DeliveryError(`The headers function of webhook ${target} threw: ${describeError(err)}`, { cause: err });
      }
      if (typeof custom === "object" && custom !== null) secrets.push(...Object.values(custom).filter((v) => typeof v === "string"));
      checkHeaders(custom, reserved, (msg) => new PermanentError(`The headers function of webhook ${target}: ${msg}`));
    } else custom = extra;
    const all: Record<string, string> = {};
    if (bearerToken !== undefined) {
      const value = await token(bearerToken, target);
      secrets.push(value);
      const problem = headerProblem("Authorization", value, "bearerToken");
      if (problem) throw new DeliveryError(`The bearerToken function of webhook ${target} returned a bad token: ${problem}`);
      all.authorization = `Bearer ${value}`;
    }
    Object.assign(all, custom, message.headers);
    for (const [name, value] of Object.entries(message.headers)) {
      // Only content-type can fail here (ce-* values are percent-encoded): its value is the event's datacontenttype.
      const problem = headerProblem(name, value, name === "content-type" ? "the event's datacontenttype" : undefined);
      if (problem) throw new PermanentError(`Cannot build the request to ${target}: ${problem}`);
    }
    if (signer) Object.assign(all, await signer.headers(event.id, Math.floor(Date.now() / 1000), message.body));
    return new Headers(all);
  }

  async function send(event: CloudEvent<unknown>, ctx: DeliveryContext, secrets: string[]): Promise<DeliveryReceipt> {
    refuseContentType(event.datacontenttype, mode, jsonOnly, target);
    let message: HttpMessage;
    let headers: Headers;
    try {
      message = mode === "structured" ? structuredMessage(event) : binaryMessage(event);
      headers = await requestHeaders(event, message, secrets);
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      // Data JSON cannot encode: the same event would fail every time. (Header values were checked above, so no
      // message from fetch quoting one, which may be a credential, gets here.)
      throw new PermanentError(`Cannot build the request to ${target}: ${describeError(err)}`, { cause: err });
    }
    // W3C Trace Context: the receiving service continues this attempt's trace. Only well-formed values: without
    // OpenTelemetry they come from the event, which a producer wrote.
    if (ctx.traceparent && TRACEPARENT.test(ctx.traceparent)) {
      headers.set("traceparent", ctx.traceparent);
      if (ctx.tracestate && TRACESTATE.test(ctx.tracestate)) headers.set("tracestate", ctx.tracestate);
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
        res = await fetch(href, { method: "POST", headers, body: message.body ?? null, redirect: "manual", signal });
      } catch (err) {
        if (timedOut) throw new DeliveryError(`No response from ${target} within ${timeoutMs} ms`, { cause: err });
        if (ctx.signal.aborted) {
          const reason = describeError(ctx.signal.reason);
          throw new DeliveryError(`Delivery to ${target} was aborted: ${reason}`, { cause: err });
        }
        throw new DeliveryError(`Could not reach ${target}: ${describeError(err)}`, { cause: err });
      }
      // Always read (or cancel) the body: an unread body pins the connection and defeats keep-alive.
      const snippet = await drainBody(res, secrets);
      if (res.status >= 200 && res.status < 300) return { status: res.status };
      throw failure(res, target, snippet);
    } finally {
      stopTimer();
    }
  }

  return {
    name: options.name ?? `webhook:${target}`,
    async deliver(event: CloudEvent<unknown>, ctx: DeliveryContext): Promise<DeliveryReceipt> {
      const secrets = [...configured];
      try {
        return await send(event, ctx, secrets);
      } catch (err) {
        // The message becomes lastError and a log line: no credential in it, and nothing PostgreSQL cannot store.
        throw scrubbed(err, secrets);
      }
    },
  };
}

/**
 * Refuses, for good, a datacontenttype this webhook must not send. In binary mode an `application/cloudevents*` type
 * would be the request's Content-Type, and a receiver would read the data as a whole CloudEvent of the publisher's
 * making (structured mode); with `contentTypes: "json"` anything but JSON is refused.
 */
function refuseContentType(type: string | undefined, mode: string, jsonOnly: boolean, target: string): void {
  if (type === undefined) return; // the data is sent as JSON
  const shown = JSON.stringify(type.length > 100 ? type.slice(0, 100) + "…" : type);
  if (mode === "binary" && isCloudEventsMediaType(type)) {
    throw new PermanentError(
      `Cannot send an event with datacontenttype ${shown} to ${target} in binary mode: the receiver would read its ` +
        "data as a CloudEvent of its own; publish the data as application/json, or use mode: \"structured\"",
    );
  }
  if (jsonOnly && !isJsonMediaType(type)) {
    throw new PermanentError(
      `Webhook ${target} sends JSON only (contentTypes: "json") and this event's datacontenttype is ${shown}; ` +
        "publish it as application/json, or set contentTypes: \"any\" if the receiver expects other types",
    );
  }
}

/** How long a webhook's error message may be; the body snippet in it is already cut to 200 characters. */
const MAX_MESSAGE_CHARS = 1000;

/** A W3C `traceparent`: version, trace id, parent id, flags, in lower-case hex. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** A W3C `tracestate`: printable ASCII list members, at most 512 characters. */
const TRACESTATE = /^[\x20-\x7e]{0,512}$/;

function scrubbed(err: unknown, secrets: readonly string[]): DeliveryError {
  const failure = err instanceof DeliveryError ? err : new DeliveryError(describeError(err), { cause: err });
  const message = storable(redact(failure.message, secrets), MAX_MESSAGE_CHARS);
  if (message === failure.message) return failure;
  if (failure instanceof PermanentError) return new PermanentError(message, { cause: failure.cause });
  return new DeliveryError(message, {
    permanent: failure.permanent,
    retryAfterMs: failure.retryAfterMs,
    cause: failure.cause,
    status: failure.status,
  });
}

async function token(source: string | (() => string | Promise<string>), target: string): Promise<string> {
  if (typeof source === "string") return source;
  let value: unknown;
  try {
    value = await source();
  } catch (err) {
    throw new DeliveryError(`The bearerToken function of webhook ${target} threw: ${describeError(err)}`, { cause: err });
  }
  if (typeof value !== "string" || value === "") {
    throw new DeliveryError(`The bearerToken function of webhook ${target} returned no token`);
  }
  return value;
}
