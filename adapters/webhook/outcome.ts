import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { parseRetryAfter } from "../retry-after.ts";
import { storable } from "../../src/text.ts";
import { readHead } from "../body.ts";
import { redact, shownUrl } from "./redact.ts";

/** How much of a response body lands in `lastError`, in UTF-16 code units (an ellipsis included when cut). */
const SNIPPET_CHARS = 200;
/**
 * Body bytes kept to build the snippet: 4 per character at most, plus room for a secret that starts inside the
 * snippet and runs past it, so redaction sees it whole.
 */
const HEAD_BYTES = 8 * 1024;
/** Up to this many body bytes are read to the end so the connection can be reused; past it the body is cancelled. */
const DRAIN_BYTES = 64 * 1024;

/**
 * Reads a response body to its end (up to 64 KiB, then cancels) so the keep-alive connection goes back to the pool,
 * and returns its start for `lastError`: `secrets` replaced by "[redacted]" (a receiver may echo the request's
 * Authorization header), whitespace collapsed, then made storable and cut between code points at 200 characters.
 *
 * @example
 * ```ts
 * const snippet = await drainBody(await fetch(url), ["my-bearer-token"]); // "Internal Server Error"
 * ```
 */
export async function drainBody(res: Response, secrets: readonly string[] = []): Promise<string> {
  const { bytes } = await readHead(res, { keepBytes: HEAD_BYTES, maxBytes: DRAIN_BYTES });
  const text = redact(new TextDecoder().decode(bytes), secrets).replace(/\s+/g, " ").trim();
  return storable(text, SNIPPET_CHARS);
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
    return new PermanentError(
      `HTTP ${status} from ${target}: the endpoint redirected to ${where(res.headers.get("location"), res.url)}; ` +
        "redirects are not followed, so configure the webhook with the final URL",
      { status },
    );
  }
  const message = `HTTP ${status} from ${target}` + (snippet ? `: ${snippet}` : "");
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new PermanentError(message, { status });
  }
  return new DeliveryError(message, { retryAfterMs: parseRetryAfter(res.headers.get("retry-after")), status });
}

// A redirect's target is shown like the webhook's own URL: its path may carry the same credential.
function where(location: string | null, base: string): string {
  if (location === null) return "an unknown location";
  try {
    return shownUrl(new URL(location, base || undefined));
  } catch {
    return "an invalid location";
  }
}
