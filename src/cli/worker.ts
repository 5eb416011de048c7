import process from "node:process";
import { jsonLogger, type Logger } from "../logger.ts";
import type { WorkerOptions } from "../worker.ts";
import { superviseWorker } from "../worker/supervise.ts";
import { integer, type Invocation, oneOf } from "./args.ts";
import { CliError, type Loaded } from "./config.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

/** Worker flags: name, WorkerOptions key, bounds. The Worker itself checks how they relate (lease > timeout). */
type NumericOption = "concurrency" | "batchSize" | "leaseMs" | "sweepIntervalMs" | "handlerTimeoutMs" | "stopTimeoutMs";
const FLAGS: [string, NumericOption, number, number][] = [
  ["concurrency", "concurrency", 1, 10_000],
  ["batch-size", "batchSize", 1, 10_000],
  ["lease-ms", "leaseMs", 1, 86_400_000],
  ["sweep-interval-ms", "sweepIntervalMs", 10, 86_400_000],
  ["handler-timeout-ms", "handlerTimeoutMs", 1, 86_400_000],
  ["stop-timeout-ms", "stopTimeoutMs", 0, 86_400_000],
];

/**
 * `pg-dispatch worker`: runs until SIGINT or SIGTERM, then stops gracefully (in-flight deliveries finish or are
 * handed back), closes the destinations and the pool, and resolves with 0. A second signal exits at once. An uncaught
 * error replaces the worker in the process (see superviseWorker).
 */
export function workerCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const logger = jsonLogger((line) => process.stdout.write(`${line}\n`), oneOf(inv, "log-level", LEVELS) ?? "info");
  const options: WorkerOptions = { logger };
  for (const [flag, key, min, max] of FLAGS) options[key] = integer(inv, flag, min, max);
  return (loaded) => run(loaded, options, logger);
}

async function run({ outbox, origin }: Loaded, options: WorkerOptions, logger: Logger): Promise<number> {
  const destinations = outbox.destinations();
  if (destinations.length === 0) {
    // With no destination, every event counts as delivered to all of its (zero) destinations and would be marked
    // published: a misconfigured worker would silently swallow the outbox.
    throw new CliError(`Config module ${origin} registers no destinations; register handlers before exporting the outbox.`);
  }
  try {
    // Fails fast on bad flags (the Worker names its options, leaseMs; the user typed flags, --lease-ms).
    outbox.worker(options);
  } catch (err) {
    if (err instanceof Error) err.message = FLAGS.reduce((m, [flag, key]) => m.replaceAll(key, `--${flag}`), err.message);
    throw err;
  }
  const signalled = new Promise<string>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        logger.warn("second signal; exiting without waiting", { signal });
        process.exit(130);
      }
      stopping = true;
      resolve(signal);
    };
    process.on("SIGINT", () => onSignal("SIGINT"));
    process.on("SIGTERM", () => onSignal("SIGTERM"));
  });
  // Supervised: an uncaught error (the database driver can throw one when a connection drops during a PostgreSQL
  // restart) replaces the worker in this process instead of ending it.
  const worker = await superviseWorker(outbox, options, { logger });
  logger.info("destinations", { names: destinations.map((d) => d.name) });
  const signal = await signalled;
  logger.info("stopping", { signal });
  await worker.stop();
  await outbox.close();
  return 0;
}
