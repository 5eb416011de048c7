/**
 * An error's message followed by its causes' (up to four), e.g. "fetch failed: connect ECONNREFUSED 127.0.0.1:4000":
 * fetch's own message alone says nothing. Total: a thrown value that cannot be printed gives "unknown error".
 *
 * @example
 * ```ts
 * describeError(new Error("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:4000") }));
 * // "fetch failed: connect ECONNREFUSED 127.0.0.1:4000"
 * ```
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    let message = "";
    try {
      message = e instanceof Error ? String(e.message) : String(e);
      e = e instanceof Error ? e.cause : undefined;
    } catch {
      // A message getter or toString that throws: nothing more can be said about it.
      e = undefined;
    }
    if (message && !parts.includes(message)) parts.push(message);
  }
  return parts.join(": ") || "unknown error";
}
