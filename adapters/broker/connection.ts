/**
 * One connection per destination, opened on first use and shared by every delivery. A failed open is forgotten, so
 * the next delivery tries again; `drop()` forgets a connection that was lost for good, and `close()` closes the one
 * that is open (or being opened) and refuses to open another.
 *
 * @example
 * ```ts
 * const connection = reusable(() => connect({ servers }), (nc) => nc.close());
 * const nc = await connection.get();
 * await connection.close();
 * ```
 */
export interface Reusable<T> {
  /** The open connection, opening it when there is none. */
  get(): Promise<T>;
  /** Forgets `value` if it is still the current connection (a newer one is kept). */
  drop(value: T): void;
  /** Closes the current connection; later `get()` calls reject. */
  close(): Promise<void>;
}

/**
 * Makes a {@link Reusable} connection from an `open` and a `close` function.
 *
 * @example
 * ```ts
 * const client = reusable(async () => await createClient({ url }).connect(), (c) => c.close());
 * ```
 */
export function reusable<T>(open: () => Promise<T>, close: (value: T) => Promise<unknown> | unknown): Reusable<T> {
  let current: Promise<T> | undefined;
  let opened: T | undefined;
  let closed = false;
  return {
    get(): Promise<T> {
      if (closed) return Promise.reject(new Error("the destination is closed"));
      if (!current) {
        const opening: Promise<T> = open();
        current = opening;
        opened = undefined;
        opening.then((value) => {
          if (current === opening) opened = value;
        }, () => {
          if (current === opening) current = undefined;
        });
      }
      return current;
    },
    drop(value: T): void {
      if (opened === value) {
        current = undefined;
        opened = undefined;
      }
    },
    async close(): Promise<void> {
      closed = true;
      const was = current;
      current = undefined;
      opened = undefined;
      const value = await was?.catch(() => undefined);
      if (value !== undefined) await close(value);
    },
  };
}
