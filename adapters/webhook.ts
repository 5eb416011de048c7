/**
 * Webhook destinations: POST each event to an HTTP endpoint as a CloudEvent (HTTP protocol binding, binary or
 * structured mode), signed the Standard Webhooks way when a secret is given.
 *
 * @module
 */
import type { CloudEvent } from "cloudevents";
import type { DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError, PermanentError } from "../src/errors.ts";
import { binaryMessage, type HttpMessage, structuredMessage } from "./webhook/binding.ts";
import { drainBody, failure } from "./webhook/outcome.ts";
import { createSigner, type Signer } from "./webhook/sign.ts";

/** Headers added to every request, or a function that returns them for one event. */
export type WebhookHeaders =
  | Record<string, string>
  | ((event: CloudEvent<unknown>) => Record<string, string> | Promise<Record<string, string>>);

/** Options of {@link webhook}. */
export interface WebhookOptions {
  /** The endpoint, an http or https URL. Redirects are not followed, so give the final URL. */
  url: string | URL;
  /**
   * Standard Webhooks secret(s): base64, usually written `whsec_<base64>`. With several (key rotation) every
   * request carries one signature per secret.
   */
  secret?: string | readonly string[];
  /** CloudEvents content mode: `binary` (default; `ce-*` headers, data as body) or `structured` (the event as JSON). */
  mode?: "binary" | "structured";
  /** Extra headers: a fixed set, or a function of the event. They cannot replace `content-type`, `ce-*` or signing headers. */
  headers?: WebhookHeaders;
  /** Per-request timeout in milliseconds, covering the response body too. Default 10000. */
  timeoutMs?: number;
  /** The destination's name, which keys its delivery state. Default `webhook:<origin><pathname>`. */
  name?: string;
  /** Sent as `Authorization: Bearer <token>`; a function is called on every attempt, so it can refresh the token. */
  bearerToken?: string | (() => string | Promise<string>);
}

const OPTION_KEYS = ["url", "secret", "mode", "headers", "timeoutMs", "name", "bearerToken"];
const DEFAULT_TIMEOUT_MS = 10_000;
const SIGNING_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"];

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
 * outbox.register("order.*", webhook({ url: "https://hooks.example.com/orders", secret: process.env.WEBHOOK_SECRET! }));
 * outbox.register("user.created", webhook({
 *   url: "https://crm.example.com/events",
 *   mode: "structured",
 *   bearerToken: () => tokens.get(),
 *   headers: (event) => ({ "x-tenant": String(event.tenant) }),
 * }));
 * ```
 */
export function webhook(options: WebhookOptions): Destination {
  const url = validate(options);
  const target = url.origin + url.pathname; // never the query string: it may carry credentials
  const mode = options.mode ?? "binary";
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
      checkHeaders(custom, reserved, (msg) => new PermanentError(msg));
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
      const message = mode === "structured" ? structuredMessage(event) : binaryMessage(event);
      let headers: Headers;
      try {
        headers = await requestHeaders(event, message);
      } catch (err) {
        if (err instanceof DeliveryError) throw err;
        // Headers rejects values it cannot send (line breaks, non-Latin-1); the same event would fail every time.
        throw new PermanentError(`Cannot build the request to ${target}: ${describe(err)}`, { cause: err });
      }

      // One controller for both the per-request timeout and the worker's signal: works on every runtime (no need
      // for AbortSignal.any) and tells the two apart in the error message.
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`Timed out after ${timeoutMs} ms`, "TimeoutError"));
      }, timeoutMs);
      const onAbort = (): void => controller.abort(ctx.signal.reason);
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener("abort", onAbort, { once: true });

      try {
        let res: Response;
        try {
          res = await fetch(href, { method: "POST", headers, body: message.body, redirect: "manual", signal: controller.signal });
        } catch (err) {
          if (timedOut) throw new DeliveryError(`No response from ${target} within ${timeoutMs} ms`, { cause: err });
          if (ctx.signal.aborted) {
            throw new DeliveryError(`Delivery to ${target} was aborted: ${describe(ctx.signal.reason)}`, { cause: err });
          }
          throw new DeliveryError(`Could not reach ${target}: ${describe(err)}`, { cause: err });
        }
        // Always read (or cancel) the body: an unread body pins the connection and defeats keep-alive.
        const snippet = await drainBody(res);
        if (res.status >= 200 && res.status < 300) return;
        throw failure(res, target, snippet);
      } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

function validate(options: WebhookOptions): URL {
  if (typeof options !== "object" || options === null) {
    throw new DispatchError("invalid_option", "webhook: pass an options object such as webhook({ url: \"https://...\" }).");
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new DispatchError("invalid_option", `webhook: unknown option "${key}"; the options are ${OPTION_KEYS.join(", ")}.`);
    }
  }
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new DispatchError("invalid_option", `webhook: url must be an absolute http(s) URL, got ${JSON.stringify(String(options.url))}.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new DispatchError("invalid_option", `webhook: url must use http or https, got "${url.protocol}".`);
  }
  if (url.username || url.password) {
    throw new DispatchError("invalid_option", "webhook: url must not contain credentials; use bearerToken or headers instead.");
  }
  if (options.mode !== undefined && options.mode !== "binary" && options.mode !== "structured") {
    throw new DispatchError("invalid_option", `webhook: mode must be "binary" or "structured", got ${JSON.stringify(options.mode)}.`);
  }
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t <= 0)) {
    throw new DispatchError("invalid_option", `webhook: timeoutMs must be a positive number of milliseconds, got ${String(t)}.`);
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.trim() === "")) {
    throw new DispatchError("invalid_option", "webhook: name must be a non-empty string.");
  }
  const b = options.bearerToken;
  if (b !== undefined && typeof b !== "function" && (typeof b !== "string" || b === "")) {
    throw new DispatchError("invalid_option", "webhook: bearerToken must be a non-empty string or a function returning one.");
  }
  const h = options.headers;
  if (h !== undefined && typeof h !== "function") {
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      throw new DispatchError("invalid_option", "webhook: headers must be an object of header names to values, or a function of the event.");
    }
    checkHeaders(h, reservedHeaders(options), (msg) => new DispatchError("invalid_option", `webhook: ${msg}`));
  }
  return url;
}

/** Header names the webhook sets itself; user headers may not replace them, or the request would lie. */
function reservedHeaders(options: WebhookOptions): (name: string) => boolean {
  const signing = options.secret !== undefined;
  const bearer = options.bearerToken !== undefined;
  return (name) => {
    const n = name.toLowerCase();
    return n === "content-type" || n === "content-length" || n.startsWith("ce-") ||
      (signing && SIGNING_HEADERS.includes(n)) || (bearer && n === "authorization");
  };
}

function checkHeaders(
  headers: unknown,
  reserved: (name: string) => boolean,
  error: (message: string) => Error,
): asserts headers is Record<string, string> {
  if (typeof headers !== "object" || headers === null) throw error("headers must be an object of header names to values.");
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") throw error(`header "${name}" must be a string, got ${typeof value}.`);
    if (reserved(name)) throw error(`header "${name}" is set by the webhook itself and cannot be overridden.`);
  }
  try {
    new Headers(headers as Record<string, string>);
  } catch (err) {
    throw error(`headers are not valid HTTP headers: ${describe(err)}.`);
  }
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
