import { DEFAULT_WORKER } from "../worker/defaults.ts";
import { type Flag, LOG_LEVEL } from "./flags.ts";

/** A WorkerOptions key a numeric worker flag sets. */
export type NumericOption = "concurrency" | "batchSize" | "leaseMs" | "sweepIntervalMs" | "handlerTimeoutMs" | "stopTimeoutMs" | "maxLeaseExpiries";

/** One numeric flag of `pg-dispatch worker`: a {@link Flag} and the WorkerOptions key it sets. */
export type WorkerFlag = Flag<{ kind: "integer"; min: number; max: number }> & { option: NumericOption };

const DAY_MS = 86_400_000;

/**
 * The worker's numeric flags, declared once: the parser's flag list, the bounds check, the help text and the mapping
 * from a WorkerOptions key back to the flag the user typed all come from here; the defaults the help states are
 * DEFAULT_WORKER's. The Worker itself checks how they relate (lease > timeout).
 */
export const WORKER_FLAGS: readonly WorkerFlag[] = [
  {
    kind: "integer",
    name: "concurrency",
    option: "concurrency",
    min: 1,
    max: 10_000,
    value: "<n>",
    help: `events delivered at the same time (default ${DEFAULT_WORKER.concurrency})`,
  },
  { kind: "integer", name: "batch-size", option: "batchSize", min: 1, max: 10_000, value: "<n>", help: "most events claimed in one statement (default concurrency)" },
  {
    kind: "integer",
    name: "lease-ms",
    option: "leaseMs",
    min: 1,
    max: DAY_MS,
    value: "<ms>",
    help: `how long a claim lasts before another worker may take it (default ${DEFAULT_WORKER.leaseMs}, at least twice --handler-timeout-ms)`,
  },
  {
    kind: "integer",
    name: "sweep-interval-ms",
    option: "sweepIntervalMs",
    min: 10,
    max: DAY_MS,
    value: "<ms>",
    help: `the safety sweep for anything a notification missed (default ${DEFAULT_WORKER.sweepIntervalMs})`,
  },
  {
    kind: "integer",
    name: "handler-timeout-ms",
    option: "handlerTimeoutMs",
    min: 1,
    max: DAY_MS,
    value: "<ms>",
    help: `the longest one delivery may take (default ${DEFAULT_WORKER.handlerTimeoutMs})`,
  },
  {
    kind: "integer",
    name: "stop-timeout-ms",
    option: "stopTimeoutMs",
    min: 0,
    max: DAY_MS,
    value: "<ms>",
    help: "on SIGTERM, how long in-flight deliveries may finish before they are handed back\n" +
      `to other workers; keep your process manager's stop timeout above it (default ${DEFAULT_WORKER.stopTimeoutMs})`,
  },
  {
    kind: "integer",
    name: "max-lease-expiries",
    option: "maxLeaseExpiries",
    min: 1,
    max: 1000,
    value: "<n>",
    help: "a poison event's deliveries fail after its workers stopped this many times\n" +
      `without an outcome (default ${DEFAULT_WORKER.maxLeaseExpiries})`,
  },
];

/** The worker's `--config`: required, unlike the other commands' (which may take --database-url instead). */
export const WORKER_CONFIG: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "config",
  value: "<module>",
  help: "required: exports the configured Outbox (destinations registered) as default or `outbox`",
};

/** Every flag of `pg-dispatch worker`, in the order of its help. */
export const WORKER_OPTIONS: readonly Flag[] = [WORKER_CONFIG, ...WORKER_FLAGS, LOG_LEVEL];
