/**
 * Reading a remote endpoint's response body without trusting its size: an error page can be gigabytes long, or never
 * end, and only its start is worth keeping.
 *
 * @module
 */

/** How a response body is read: how much to keep, and how much to read at most before cancelling the rest. */
export interface ReadHeadOptions {
  /** Bytes kept from the start of the body. */
  keepBytes: number;
  /**
   * Bytes read at most. Reading a short body to its end lets the keep-alive connection go back to the pool; past
   * this the body is cancelled (which closes that connection) rather than read.
   */
  maxBytes: number;
}

/** The start of a body, and whether there was more than was kept. */
export interface BodyHead {
  bytes: Uint8Array<ArrayBuffer>;
  /** True when the body went on past `keepBytes` (or past `maxBytes` and was cancelled). */
  cut: boolean;
}

/**
 * Reads the start of a response body: at most `maxBytes` are read (then the body is cancelled), the first
 * `keepBytes` are returned. A body that breaks off mid-way returns what arrived; it never throws.
 *
 * @example
 * ```ts
 * const { bytes, cut } = await readHead(await fetch(url), { keepBytes: 4096, maxBytes: 65_536 });
 * ```
 */
export async function readHead(res: Response, options: ReadHeadOptions): Promise<BodyHead> {
  const { keepBytes, maxBytes } = options;
  if (!res.body) return { bytes: new Uint8Array(0), cut: false };
  const reader = res.body.getReader();
  const head: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (kept < keepBytes) {
        const part = value.length > keepBytes - kept ? value.subarray(0, keepBytes - kept) : value;
        head.push(part);
        kept += part.length;
      }
      if (total >= maxBytes) {
        await reader.cancel().catch(() => {});
        total = Infinity;
        break;
      }
    }
  } catch {
    // A body that breaks off mid-way says nothing more than what already arrived.
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(kept);
  let at = 0;
  for (const chunk of head) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { bytes, cut: total > kept };
}
