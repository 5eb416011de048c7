import { DEFAULT_WORKER } from "../worker/defaults.ts";

/** A WorkerOptions key a numeric worker flag sets. */
export type NumericOption = "concurrency" | "batchSize" | "leaseMs" | "sweepIntervalMs" | "handlerTimeoutMs" | "stopTimeoutMs";

/** One numeric flag of `pg-dispatch worker`: what it sets, its bounds, and its line in the help. */
export interface WorkerFlag {
  flag: string;
  option: NumericOption;
  min: number;
  max: number;
  /** The value's placeholder in the help. */
  value: "<n>" | "<ms>";
  /** What it means; lines after the first are continued under it. */
  help: string;
  /** The default as the help states it, from DEFAULT_WORKER. */
  default: string;
}

/**
 * The worker's numeric flags, declared once: the parser's flag list, the bounds check, the help text and the mapping
 * from a WorkerOptions key back to the flag the user typed all come from here. The Worker itself checks how they
 * relate (lease > timeout).
 */
export const WORKER_FLAGS: readonly WorkerFlag[] = [
  { flag: "concurrency", option: "concurrency", min: 1, max: 10_000, value: "<n>", help: "events delivered at the same time", default: String(DEFAULT_WORKER.concurrency) },
  { flag: "batch-size", option: "batchSize", min: 1, max: 10_000, value: "<n>", help: "most events claimed in one statement", default: "concurrency" },
  {
    flag: "lease-ms",
    option: "leaseMs",
    min: 1,
    max: 86_400_000,
    value: "<ms>",
    help: "how long a claim lasts before another worker may take it",
    default: `${DEFAULT_WORKER.leaseMs}, at least twice --handler-timeout-ms`,
  },
  {
    flag: "sweep-interval-ms",
    option: "sweepIntervalMs",
    min: 10,
    max: 86_400_000,
    value: "<ms>",
    help: "the safety sweep for anything a notification missed",
    default: String(DEFAULT_WORKER.sweepIntervalMs),
  },
  {
    flag: "handler-timeout-ms",
    option: "handlerTimeoutMs",
    min: 1,
    max: 86_400_000,
    value: "<ms>",
    help: "the longest one delivery may take",
    default: String(DEFAULT_WORKER.handlerTimeoutMs),
  },
  {
    flag: "stop-timeout-ms",
    option: "stopTimeoutMs",
    min: 0,
    max: 86_400_000,
    value: "<ms>",
    help: "on SIGTERM, how long in-flight deliveries may finish before they are handed back\nto other workers; keep your process manager's stop timeout above it",
    default: String(DEFAULT_WORKER.stopTimeoutMs),
  },
];

/** The worker's word-valued flag. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

const COLUMN = 31;

/** The worker's options as help lines, from {@link WORKER_FLAGS}. */
export function workerOptionsHelp(): string {
  const line = (left: string, text: string) => {
    const [first, ...rest] = text.split("\n");
    return [`  ${left}`.padEnd(COLUMN) + first, ...rest.map((r) => " ".repeat(COLUMN) + r)].join("\n");
  };
  return [
    line("--config <module>", "required: exports the configured Outbox (destinations registered) as default or `outbox`"),
    ...WORKER_FLAGS.map((f) => line(`--${f.flag} ${f.value}`, `${f.help} (default ${f.default})`)),
    line("--log-level <level>", `${LOG_LEVELS.slice(0, -1).join(", ")} or ${LOG_LEVELS[LOG_LEVELS.length - 1]} (default info)`),
  ].join("\n");
}
