/**
 * The HTTP `Retry-After` header, read the same way by every adapter that speaks HTTP (webhooks, Pub/Sub REST).
 *
 * @module
 */

/** The longest `Retry-After` honoured; a longer one is cut to this (the worker applies its own cap as well). */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

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
