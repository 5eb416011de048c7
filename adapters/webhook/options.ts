import type { CloudEvent } from "cloudevents";
import { DispatchError } from "../../src/errors.ts";
import { assertKnownKeys } from "../../src/options.ts";

/** Headers added to every request, or a function that returns them for one event. */
export type WebhookHeaders =
  | Record<string, string>
  | ((event: CloudEvent<unknown>) => Record<string, string> | Promise<Record<string, string>>);

/** Options of `webhook()`. */
export interface WebhookOptions {
  /** The endpoint, an http or https URL. Redirects are not followed, so give the final URL. */
  url: string | URL;
  /**
   * Standard Webhooks secret(s): base64, usually written `whsec_<base64>`. With several (key rotation) every
   * request carries one signature per secret. Leave the key out to send unsigned requests; a `secret` that is
   * present but undefined or empty (an unset environment variable) is refused, so signing cannot turn off unnoticed.
   */
  secret?: string | readonly string[] | undefined;
  /** CloudEvents content mode: `binary` (default; `ce-*` headers, data as body) or `structured` (the event as JSON). */
  mode?: "binary" | "structured" | undefined;
  /**
   * Which `datacontenttype` values are sent. `"any"` (default): the publisher's choice becomes the request's
   * Content-Type and raw body (form, XML, multipart...). `"json"`: only JSON media types (`application/json`,
   * `text/json`, `*+json`); an event with another datacontenttype fails for good without being sent.
   */
  contentTypes?: "any" | "json" | undefined;
  /** Extra headers, fixed or per event. They cannot replace `content-type`, `ce-*` or the signing headers. */
  headers?: WebhookHeaders | undefined;
  /**
   * Per-request timeout in milliseconds, covering the response body too. Default: none of its own; the worker's
   * `handlerTimeoutMs` (10 s unless set) bounds every delivery, and its abort cancels the request.
   */
  timeoutMs?: number | undefined;
  /**
   * The destination's name, which keys its delivery state: a new name is a new destination, so events in flight are
   * delivered again under it. Default `webhook:<origin>/…#<fingerprint>`, the path hidden behind the first 8 hex
   * digits of SHA-256 of `<origin><path>` (it may carry a credential), or `webhook:<origin>/` for the root path.
   */
  name?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`; a function is called on every attempt, so it can refresh the token. */
  bearerToken?: string | (() => string | Promise<string>) | undefined;
}

const OPTION_KEYS = ["url", "secret", "mode", "contentTypes", "headers", "timeoutMs", "name", "bearerToken"];
const SIGNING_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"];

function invalid(message: string): DispatchError {
  return new DispatchError("invalid_option", `webhook: ${message}`);
}

/**
 * Checks webhook options where they enter, so a typo fails at startup rather than on the first delivery, and
 * returns the parsed URL. Secrets are checked by the signer.
 *
 * @example
 * ```ts
 * const url = validateOptions({ url: "https://hooks.example.com/in", timeoutMs: 5000 });
 * ```
 */
export function validateOptions(options: WebhookOptions): URL {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalid("pass an options object such as webhook({ url: \"https://...\" }).");
  }
  assertKnownKeys(options, OPTION_KEYS, "webhook options");
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw invalid(`url must be an absolute http(s) URL, got ${JSON.stringify(String(options.url))}.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(`url must use http or https, got "${url.protocol}".`);
  }
  if (url.username || url.password) {
    throw invalid("url must not contain credentials; use bearerToken or headers instead.");
  }
  if (Object.hasOwn(options, "secret") && (options.secret === undefined || options.secret === "")) {
    throw invalid(
      `secret is ${options.secret === undefined ? "undefined" : "empty"}: set the variable it comes from ` +
        "(e.g. WEBHOOK_SECRET), or leave the secret option out to send unsigned requests deliberately.",
    );
  }
  if (options.mode !== undefined && options.mode !== "binary" && options.mode !== "structured") {
    throw invalid(`mode must be "binary" or "structured", got ${JSON.stringify(options.mode)}.`);
  }
  const c = options.contentTypes;
  if (c !== undefined && c !== "any" && c !== "json") {
    throw invalid(`contentTypes must be "any" or "json", got ${JSON.stringify(c)}.`);
  }
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== "number" || !Number.isFinite(t) || t <= 0)) {
    throw invalid(`timeoutMs must be a positive number of milliseconds, got ${String(t)}.`);
  }
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.trim() === "")) {
    throw invalid("name must be a non-empty string.");
  }
  const b = options.bearerToken;
  if (b !== undefined && typeof b !== "function" && (typeof b !== "string" || b === "")) {
    throw invalid("bearerToken must be a non-empty string or a function returning one.");
  }
  if (typeof b === "string") {
    const problem = headerProblem("Authorization", b, "bearerToken");
    if (problem) throw invalid(problem);
  }
  const h = options.headers;
  if (h !== undefined && typeof h !== "function") {
    if (typeof h !== "object" || h === null || Array.isArray(h)) {
      throw invalid("headers must be an object of header names to values, or a function of the event.");
    }
    checkHeaders(h, reservedHeaders(options), invalid);
  }
  return url;
}

/**
 * Header names the webhook sets itself; user headers may not replace them, or the request would lie about its
 * content or signature.
 *
 * @example
 * ```ts
 * reservedHeaders({ url, secret })("Webhook-Signature"); // true
 * ```
 */
export function reservedHeaders(options: WebhookOptions): (name: string) => boolean {
  const signing = options.secret !== undefined;
  const bearer = options.bearerToken !== undefined;
  return (name) => {
    const n = name.toLowerCase();
    return n === "content-type" || n === "content-length" || n.startsWith("ce-") ||
      (signing && SIGNING_HEADERS.includes(n)) || (bearer && n === "authorization");
  };
}

/**
 * Asserts user headers are string values, valid for HTTP, and not reserved; `error` builds what is thrown
 * (a DispatchError at construction, a PermanentError for a per-event function).
 *
 * @example
 * ```ts
 * checkHeaders({ "x-team": "orders" }, reservedHeaders(options), (msg) => new PermanentError(msg));
 * ```
 */
export function checkHeaders(
  headers: unknown,
  reserved: (name: string) => boolean,
  error: (message: string) => Error,
): asserts headers is Record<string, string> {
  if (typeof headers !== "object" || headers === null) {
    throw error("headers must be an object of header names to values.");
  }
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") throw error(`header ${quote(name)} must be a string, got ${typeof value}.`);
    const problem = headerProblem(name, value);
    if (problem) throw error(problem);
    if (reserved(name)) throw error(`header ${quote(name)} is set by the webhook itself and cannot be overridden.`);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Why a header cannot be sent, or undefined when it can. The message names the header and never quotes its value
 * (it is often a credential); fetch's own error would quote it in full.
 *
 * @example
 * ```ts
 * headerProblem("authorization", "Bearer a\nb"); // 'header "authorization" has a value with CR, LF or NUL, ...'
 * ```
 */
export function headerProblem(name: string, value: string, option?: string): string | undefined {
  const which = `header ${quote(name)}${option ? ` (from ${option})` : ""}`;
  if (!TOKEN.test(name)) return `${which} is not a valid HTTP header name.`;
  if (/[\0\r\n]/.test(value)) return `${which} has a value with CR, LF or NUL, which HTTP cannot carry; remove them.`;
  // fetch sends header values as bytes, one per character: anything above U+00FF cannot be sent.
  if (/[\u0100-\uffff]/.test(value)) {
    return `${which} has a value with a character above U+00FF, which HTTP header values cannot carry; ` +
      "percent-encode or base64 it.";
  }
  return undefined;
}

/** A header name for a message: JSON-quoted, so control characters in it are shown escaped, and cut if long. */
function quote(name: string): string {
  return JSON.stringify(name.length > 100 ? name.slice(0, 100) + "…" : name);
}
