/**
 * Every `DispatchError.code`, so that a `switch` on it is checked. Input refused: `invalid_event` (an attribute),
 * `invalid_data` (the data: not JSON, or not what the event catalog's schema says), `invalid_option`,
 * `payload_too_large`, `ambiguous_id` (pass `source`), `duplicate_destination`. Setup: `not_migrated`,
 * `no_destinations`, `destination_unavailable`, `unsupported_runtime`, `invalid_state` (a worker started twice).
 * Delivery: `delivery_failed`, `delivery_failed_permanently`, `worker_stopped`, `closed` (a closed destination).
 */
export type DispatchErrorCode =
  | "ambiguous_id"
  | "closed"
  | "delivery_failed"
  | "delivery_failed_permanently"
  | "destination_unavailable"
  | "duplicate_destination"
  | "invalid_data"
  | "invalid_event"
  | "invalid_option"
  | "invalid_state"
  | "logical_unavailable"
  | "no_destinations"
  | "not_migrated"
  | "payload_too_large"
  | "timeout"
  | "unsupported_runtime"
  | "worker_stopped";

/**
 * The one error type pg-dispatch throws. `code` says what kind of problem it is, so callers can branch on it
 * without parsing messages.
 *
 * @example
 * ```ts
 * try {
 *   await outbox.publishEvent({ type: "", source: "app" });
 * } catch (err) {
 *   if (err instanceof DispatchError && err.code === "invalid_event") console.error(err.message);
 * }
 * ```
 */
export class DispatchError extends Error {
  /** A stable, machine-readable error code such as `invalid_event` or `invalid_option`. */
  readonly code: DispatchErrorCode;
  /** The input field the error is about, when there is one: `type`, `data.user.id`, `extensions.Trace`, `limit`. */
  readonly field?: string;

  constructor(code: DispatchErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DispatchError";
    this.code = code;
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** Options of {@link DeliveryError}. */
export interface DeliveryErrorOptions {
  /** When true the delivery fails for good now, skipping the remaining retries. */
  permanent?: boolean | undefined;
  /** The earliest time to try again, in milliseconds from now (for example from `Retry-After`). */
  retryAfterMs?: number | undefined;
  /** The underlying error. */
  cause?: unknown;
  /** The destination's status code, for the attempt history (a webhook's HTTP status). */
  status?: number | undefined;
}

/**
 * Thrown by a destination to say how a failed delivery should be retried. To say that no retry can help, throw a
 * {@link PermanentError}: the one way to say "permanent" (`permanent: true` here means the same, and exists for code
 * that decides at run time).
 *
 * @example
 * ```ts
 * outbox.register("user.created", async (event) => {
 *   const res = await fetch(url, { method: "POST", body: JSON.stringify(event.data) });
 *   if (res.status === 429) throw new DeliveryError("rate limited", { retryAfterMs: 30_000 });
 * });
 * ```
 */
export class DeliveryError extends DispatchError {
  /** True when no further attempt should be made. */
  readonly permanent: boolean;
  /** The requested delay before the next attempt, if any. */
  readonly retryAfterMs?: number;
  /** The destination's status code, when it has one (a webhook's HTTP status). */
  readonly status?: number;

  constructor(message: string, options: DeliveryErrorOptions = {}) {
    super(options.permanent ? "delivery_failed_permanently" : "delivery_failed", message, { cause: options.cause });
    this.name = "DeliveryError";
    this.permanent = options.permanent === true;
    this.retryAfterMs = options.retryAfterMs;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * A delivery failure that retrying cannot fix (a rejected payload, a gone endpoint): the delivery is marked
 * `failed` at once, with this message as its `lastError`.
 *
 * @example
 * ```ts
 * outbox.register("invoice.created", (event) => {
 *   if (!event.data) throw new PermanentError("Invoice events need data");
 * });
 * ```
 */
export class PermanentError extends DeliveryError {
  constructor(message: string, options: Omit<DeliveryErrorOptions, "permanent" | "retryAfterMs"> = {}) {
    super(message, { ...options, permanent: true });
    this.name = "PermanentError";
  }
}
