import { DeliveryError } from "../../src/errors.ts";

/** The longest `Retry-After` honoured; a longer one is cut to this (the worker applies its own cap as well). */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;
/** How much of a response body lands in `lastError`. */
const SNIPPET_CHARS = 200;
/** Up to this many body bytes are read to the end so the connection can be reused; past it the body is cancelled. */
const DRAIN_BYTES = 64 * 1024;

/**
 * Reads a response body to its end (up to 64 KiB, then cancels) so the keep-alive connection goes back to the pool,
 * and returns the first ~200 characters, whitespace collapsed, for `lastError`.
 *
 * @example
 * ```ts
 * const snippet = await drainBody(await fetch(url)); // "Internal Server Error"
 * ```
 */
export async function drainBody(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      // 4 bytes per character at most, so this is always enough for the snippet.
      if (headBytes < SNIPPET_CHARS * 4) {
        head.push(value);
        headBytes += value.length;
      }
      if (total > DRAIN_BYTES) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
  } catch {
    // A body that breaks off mid-way says nothing more about the outcome than the status already does.
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(headBytes);
  let at = 0;
  for (const chunk of head) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  const text = new TextDecoder().decode(bytes).replace(/\s+/g, " ").trim();
  return text.length > SNIPPET_CHARS ? text.slice(0, SNIPPET_CHARS) + "…" : text;
}

/**
 * Parses a `Retry-After` header (delta seconds or an HTTP date) into milliseconds from `now`, capped at
 * {@link MAX_RETRY_AFTER_MS}. Undefined when the header is absent or unreadable.
 *
 * @example
 * ```ts
 * parseRetryAfter("120"); // 120000
 * parseRetryAfter("Wed, 21 Oct 2099 07:28:00 GMT"); // 3600000 (capped)
 * ```
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * Turns a non-2xx response into the DeliveryError the worker acts on: 3xx (not followed), 410 and other 4xx are
 * permanent except 408 and 429; everything else is retried, after `Retry-After` when the endpoint sent one.
 * The message is the delivery's `lastError`: `HTTP <status> from <url>: <body snippet>`.
 *
 * @example
 * ```ts
 * throw failure(res, "https://hooks.example/in", await drainBody(res));
 * ```
 */
export function failure(res: Response, target: string, snippet: string): DeliveryError {
  const status = res.status;
  if (res.type === "opaqueredirect" || (status >= 300 && status < 400)) {
    const location = res.headers.get("location");
    return new DeliveryError(
      `HTTP ${status} from ${target}: the endpoint redirected to ${location ?? "an unknown location"}; ` +
        "redirects are not followed, so configure the webhook with the final URL",
      { permanent: true },
    );
  }
  const message = `HTTP ${status} from ${target}` + (snippet ? `: ${snippet}` : "");
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new DeliveryError(message, { permanent: true });
  }
  return new DeliveryError(message, { retryAfterMs: parseRetryAfter(res.headers.get("retry-after")) });
}
