import { assertKnownKeys, optionsObject, wholeNumber } from "./options.ts";

/** How failed deliveries are retried. */
export interface RetryOptions {
  /** Retries after the first attempt, per destination, unless the event sets its own. Default 10. */
  maxRetries?: number | undefined;
  /** The delay before the first retry; each further retry doubles it. Default 1000 ms. */
  baseDelayMs?: number | undefined;
  /** The longest delay between two attempts (and the cap on a destination's Retry-After). Default 600000 ms (10 min). */
  maxDelayMs?: number | undefined;
}

/** Retry settings with every default filled in. */
export type RetryPolicy = { [K in keyof RetryOptions]-?: NonNullable<RetryOptions[K]> };

/** With the defaults, a delivery is retried for about 17 minutes: 1 s, 2 s, 4 s ... 512 s, with jitter. */
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 10, baseDelayMs: 1000, maxDelayMs: 600_000 };

/** The most retries an outbox or one event may ask for. */
export const MAX_RETRIES = 1000;

/** Checks retry options and fills in the defaults. */
export function retryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const o = optionsObject(options, "retry");
  assertKnownKeys(o, ["maxRetries", "baseDelayMs", "maxDelayMs"], "retry options");
  const baseDelayMs = wholeNumber(o.baseDelayMs, "retry.baseDelayMs", 1, DEFAULT_RETRY.baseDelayMs);
  return {
    maxRetries: wholeNumber(o.maxRetries, "retry.maxRetries", 0, DEFAULT_RETRY.maxRetries, MAX_RETRIES),
    baseDelayMs,
    maxDelayMs: wholeNumber(o.maxDelayMs, "retry.maxDelayMs", baseDelayMs, Math.max(baseDelayMs, DEFAULT_RETRY.maxDelayMs)),
  };
}

/**
 * The delay before retry number `retry` (1 for the first): exponential, capped, with "equal jitter" (half fixed,
 * half random) so that many deliveries failing together do not retry together, while each delay is still at least
 * the previous one's ceiling. A destination's Retry-After stretches the delay, within the cap.
 */
export function backoffMs(retry: number, policy: RetryPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 52));
  const delay = ceiling / 2 + random() * (ceiling / 2);
  const asked = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, policy.maxDelayMs) : 0;
  return Math.round(Math.max(delay, asked));
}

/**
 * The delay before in-process retry number `attempt` (1 for the first) of a reconnect, a restart or a write that must
 * land: {@link backoffMs}'s doubling from `baseDelayMs` up to `maxDelayMs`, with its equal jitter, so the workers that
 * lost the database together (a restart, a failover) do not all come back in the same millisecond.
 *
 * @example
 * ```ts
 * for (let attempt = 1; ; attempt++) {
 *   try { return await connect(); } catch { await sleep(reconnectDelayMs(attempt, 50, 5000)); }
 * }
 * ```
 */
export function reconnectDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  return backoffMs(attempt, { maxRetries: 0, baseDelayMs, maxDelayMs }, undefined, random);
}
