// Small helpers shared by the bench figures: timing, statistics, waiting.

/** Resolves after `ms` (the bench measures time; tests never sleep like this). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The median of some numbers (NaN for none). */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

/** A logger that says nothing, for pg-dispatch. */
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The small JSON payload every peer publishes. */
export function payload(i: number): { user_id: number; email: string } {
  return { user_id: i, email: `user${i}@example.com` };
}

/** Process resident set size in MB. */
export function rssMb(): number {
  return process.memoryUsage().rss / 1_048_576;
}

/**
 * Keeps `body` (a transaction) open until the returned function is called: `body` calls `ready()` once it has done
 * its work and then awaits `held`. Errors from `body` (a deliberate rollback) are swallowed.
 */
export async function holdOpen(body: (ready: () => void, held: Promise<void>) => Promise<unknown>): Promise<() => Promise<void>> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let ready!: () => void;
  const open = new Promise<void>((r) => (ready = r));
  const done = body(ready, held).catch(() => {});
  await open;
  return async () => {
    release();
    await done;
  };
}
