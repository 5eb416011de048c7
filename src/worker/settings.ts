import { DispatchError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { assertKnownKeys, assertLogger, optionsObject, wholeNumber } from "../options.ts";
import type { RetentionOptions } from "../retention.ts";
import type { DeliveryFailure } from "../store/complete.ts";
import type { CircuitBreakerOptions } from "./controls.ts";
import { DEFAULT_WORKER } from "./defaults.ts";

/** Worker settings. */
export interface WorkerOptions {
  /** Events delivered at the same time. Default 32. */
  concurrency?: number | undefined;
  /** Most events claimed in one statement. Default: concurrency. */
  batchSize?: number | undefined;
  /** How long a claim lasts; a crashed worker's events come back after this. Must exceed handlerTimeoutMs. Default 30000. */
  leaseMs?: number | undefined;
  /** The safety sweep for anything a notification did not announce. Default 30000. */
  sweepIntervalMs?: number | undefined;
  /** The longest one delivery may take before it fails as timed out. Default 10000. */
  handlerTimeoutMs?: number | undefined;
  /** How long `stop()` waits for in-flight deliveries before releasing them. Default 10000. */
  stopTimeoutMs?: number | undefined;
  /** Deleting old finished events; `false` keeps everything. */
  retention?: RetentionOptions | false | undefined;
  /** Where this worker logs (the CLI passes its JSON logger). Default: the outbox's logger. */
  logger?: Logger | undefined;
  /** Record every attempt in the attempt history (`getEvent(id, { history: true })`). Default true. */
  history?: boolean | undefined;
  /**
   * A poison event: after its lease ran out this many times without an outcome (the worker holding it crashed,
   * exited or stalled), its due deliveries fail for good instead of taking down the next worker. A graceful stop
   * does not count. Default 3.
   */
  maxLeaseExpiries?: number | undefined;
  /**
   * After this many retryable failures in a row at one destination, its deliveries rest (without using attempts)
   * for a cooldown that doubles while trial attempts keep failing; the first success closes it. `false` turns it off.
   * Default `{ failures: 10, cooldownMs: 5000, maxCooldownMs: 300000 }`.
   */
  circuitBreaker?: CircuitBreakerOptions | false | undefined;
  /**
   * Called after a delivery that failed for good has been recorded, so someone can be told (page, ticket, chat).
   * Runs in the worker, not awaited by the outcome writer; its errors are logged and change nothing.
   */
  onDeliveryFailed?: ((failure: DeliveryFailure) => void | Promise<void>) | undefined;
  /**
   * How often the worker asks for due events when it polls: in the outbox's `wake: "poll"` mode, and when the
   * notify mode finds that LISTEN does not work (a transaction pooler). Each look is one query. Default 100.
   */
  pollIntervalMs?: number | undefined;
}

const WORKER_KEYS = [
  "concurrency", "batchSize", "leaseMs", "sweepIntervalMs", "handlerTimeoutMs", "stopTimeoutMs", "retention", "logger",
  "history", "maxLeaseExpiries", "circuitBreaker", "onDeliveryFailed", "pollIntervalMs",
] as const;

/** A worker's options, checked, with every default filled in. */
export interface WorkerSettings {
  concurrency: number;
  batchSize: number;
  leaseMs: number;
  sweepIntervalMs: number;
  handlerTimeoutMs: number;
  stopTimeoutMs: number;
  retention: RetentionOptions | false | undefined;
  logger: Logger | undefined;
  history: boolean;
  maxLeaseExpiries: number;
  circuitBreaker: CircuitBreakerOptions | false | undefined;
  onDeliveryFailed: ((failure: DeliveryFailure) => void | Promise<void>) | null;
  pollIntervalMs: number;
}

/** Checks a worker's options (a clear error for each bad one) and fills in the defaults. */
export function workerSettings(options: WorkerOptions): WorkerSettings {
  const o = optionsObject(options, "worker");
  assertKnownKeys(o, WORKER_KEYS, "worker options");
  assertLogger(o.logger);
  const d = DEFAULT_WORKER;
  const concurrency = wholeNumber(o.concurrency, "concurrency", 1, d.concurrency, 10_000);
  const handlerTimeoutMs = wholeNumber(o.handlerTimeoutMs, "handlerTimeoutMs", 1, d.handlerTimeoutMs);
  const settings: WorkerSettings = {
    concurrency,
    batchSize: wholeNumber(o.batchSize, "batchSize", 1, Math.min(concurrency, 1000), 10_000),
    handlerTimeoutMs,
    leaseMs: wholeNumber(o.leaseMs, "leaseMs", 1, Math.max(d.leaseMs, handlerTimeoutMs * 2)),
    sweepIntervalMs: wholeNumber(o.sweepIntervalMs, "sweepIntervalMs", 10, d.sweepIntervalMs),
    stopTimeoutMs: wholeNumber(o.stopTimeoutMs, "stopTimeoutMs", 0, d.stopTimeoutMs),
    retention: o.retention,
    logger: o.logger,
    history: true,
    maxLeaseExpiries: 0,
    circuitBreaker: o.circuitBreaker,
    onDeliveryFailed: null,
    pollIntervalMs: 0,
  };
  if (settings.leaseMs <= handlerTimeoutMs) {
    throw new DispatchError(
      "invalid_option",
      `leaseMs (${settings.leaseMs}) must be longer than handlerTimeoutMs (${handlerTimeoutMs}), or a slow delivery could run twice at once.`,
    );
  }
  if (o.history !== undefined && typeof o.history !== "boolean") {
    throw new DispatchError("invalid_option", "history must be true or false.", { field: "history" });
  }
  settings.history = o.history !== false;
  settings.maxLeaseExpiries = wholeNumber(o.maxLeaseExpiries, "maxLeaseExpiries", 1, d.maxLeaseExpiries, 1000);
  if (o.onDeliveryFailed !== undefined && typeof o.onDeliveryFailed !== "function") {
    throw new DispatchError("invalid_option", "onDeliveryFailed must be a function.", { field: "onDeliveryFailed" });
  }
  settings.onDeliveryFailed = o.onDeliveryFailed ?? null;
  settings.pollIntervalMs = wholeNumber(o.pollIntervalMs, "pollIntervalMs", 10, 100, 60_000);
  return settings;
}
