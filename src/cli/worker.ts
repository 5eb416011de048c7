import process from "node:process";
import { DEFAULT_LOG_LEVEL, jsonLogger, type Logger } from "../logger.ts";
import type { WorkerOptions } from "../worker.ts";
import { superviseWorker } from "../worker/supervise.ts";
import { DispatchError } from "../errors.ts";
import { DEFAULT_WORKER } from "../worker/defaults.ts";
import type { Invocation } from "./args.ts";
import { CliError, type Loaded } from "./config.ts";
import { LOG_LEVEL, read } from "./flags.ts";
import { WORKER_FLAGS } from "./worker-flags.ts";

/**
 * `pg-dispatch worker`: runs until SIGINT or SIGTERM, then stops gracefully (in-flight deliveries finish or are
 * handed back), closes the destinations and the pool, and resolves with 0. A second signal exits at once. An uncaught
 * error replaces the worker in the process (see superviseWorker).
 */
export function workerCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const logger = jsonLogger((line) => process.stdout.write(`${line}\n`), read(inv, LOG_LEVEL) ?? DEFAULT_LOG_LEVEL);
  const options: WorkerOptions = { logger };
  for (const f of WORKER_FLAGS) options[f.option] = read(inv, f);
  checkLease(options);
  return (loaded) => run(loaded, options, logger);
}

/**
 * The Worker's rule that a lease outlasts a delivery, said in the flags the user typed. Without --lease-ms the Worker
 * makes the lease at least twice the handler timeout, so only a given --lease-ms can break it.
 */
function checkLease(options: WorkerOptions): void {
  const lease = options.leaseMs;
  const timeout = options.handlerTimeoutMs ?? DEFAULT_WORKER.handlerTimeoutMs;
  if (lease !== undefined && lease <= timeout) {
    throw new DispatchError(
      "invalid_option",
      `--lease-ms (${lease}) must be longer than --handler-timeout-ms (${timeout}), or a slow delivery could run twice at once.`,
      { field: "lease-ms" },
    );
  }
}

async function run({ outbox, origin, onDeliveryFailed }: Loaded, options: WorkerOptions, logger: Logger): Promise<number> {
  if (onDeliveryFailed) options = { ...options, onDeliveryFailed };
  const destinations = outbox.destinations();
  if (destinations.length === 0) {
    // With no destination, every event counts as delivered to all of its (zero) destinations and would be marked
    // published: a misconfigured worker would silently swallow the outbox.
    throw new CliError(`Config module ${origin} registers no destinations; register handlers before exporting the outbox.`);
  }
  // Fails fast on anything else the Worker refuses (the flags were checked in the user's words above).
  outbox.worker(options);
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
