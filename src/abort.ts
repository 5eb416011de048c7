import { DispatchError } from "./errors.ts";

/** Something a stopping worker can abort: an attempt in flight. */
export interface Abortable {
  abort(reason?: unknown): void;
}

/**
 * An AbortController made only when someone reads its signal. Most local handlers never do, and on Node 20 creating
 * an AbortSignal cost more than the rest of a no-op delivery (CPU profile of dispatch: 23% in createAbortSignal,
 * plus its share of garbage collection). Aborting before the signal is read is remembered: the signal, once made,
 * is already aborted with that reason.
 */
export class LazyAbortController implements Abortable {
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason?: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * Settles as `promise` does, or rejects with `reason()` as soon as `signal` aborts (the promise is left to settle on
 * its own). For clients that take no AbortSignal of their own.
 *
 * @example
 * ```ts
 * await untilAborted(client.publish(message), ctx.signal, () => new DeliveryError("aborted"));
 * ```
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, reason: () => unknown): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    function onAbort(): void {
      reject(reason());
    }
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Settles as `promise` does, or rejects after `ms` with a `timeout` DispatchError. For the worker's own statements:
 * the database driver can leave a query on a connection that a server restart cut unsettled forever, and one such
 * query must not stop the worker's loop (the statement itself is not cancelled; its connection is the driver's).
 *
 * @example
 * ```ts
 * const rows = await withDeadline(claim(query, schema, 32, lease, 30_000), 30_000, "claiming");
 * ```
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DispatchError("timeout", `${what} got no answer from the database within ${ms} ms.`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
