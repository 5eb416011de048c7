import { DispatchError } from "../../src/errors.ts";

/**
 * Loads a broker's client library, an optional peer dependency, on first use, so users of other destinations never
 * install or load it. A missing one becomes an error that names the package to install; a destination calls this
 * from its `start()`, so the worker refuses to start instead of failing every delivery.
 *
 * @example
 * ```ts
 * const redis = await loadPeer(() => import("redis"), "redis", "redisStream()");
 * ```
 */
export async function loadPeer<T>(load: () => Promise<T>, packages: string, destination: string): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DispatchError(
      "destination_unavailable",
      `${destination} needs the optional dependency ${packages}, which could not be loaded (${reason}): ` +
        `install it (npm install ${packages})`,
      { cause: err },
    );
  }
}
