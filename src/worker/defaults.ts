/**
 * A worker's settings when `outbox.worker()` is not told otherwise, declared once: the worker reads them, and the CLI
 * and the docs can quote them. `batchSize` defaults to `concurrency` (at most 1000), and `leaseMs` to at least twice
 * `handlerTimeoutMs`, so those two are derived rather than listed.
 *
 * @example
 * ```ts
 * const worker = outbox.worker({ concurrency: DEFAULT_WORKER.concurrency * 2 });
 * ```
 */
export const DEFAULT_WORKER: Readonly<{
  concurrency: number;
  leaseMs: number;
  sweepIntervalMs: number;
  handlerTimeoutMs: number;
  stopTimeoutMs: number;
  maxLeaseExpiries: number;
}> = Object.freeze({
  concurrency: 32,
  leaseMs: 30_000,
  sweepIntervalMs: 30_000,
  handlerTimeoutMs: 10_000,
  stopTimeoutMs: 10_000,
  maxLeaseExpiries: 3,
});
