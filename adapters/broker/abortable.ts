import { untilAborted } from "../../src/abort.ts";
import { DeliveryError } from "../../src/errors.ts";

/**
 * Settles with `promise`, or rejects with a retryable {@link DeliveryError} as soon as `signal` aborts (the attempt
 * timed out or the worker is stopping). The broker may still have taken the message: the retry carries the same
 * event id, which is what consumers de-duplicate on.
 *
 * @example
 * ```ts
 * const ack = await abortable(js.publish(subject, data), ctx.signal, 'JetStream on subject "events"');
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal, broker: string): Promise<T> {
  return untilAborted(promise, signal, () => aborted(signal, broker));
}

function aborted(signal: AbortSignal, broker: string): DeliveryError {
  const why = signal.reason instanceof Error && signal.reason.name === "TimeoutError" ? "timed out" : "was aborted";
  return new DeliveryError(`The publish to ${broker} ${why} before the broker confirmed it`, { cause: signal.reason });
}
