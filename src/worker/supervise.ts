import { DispatchError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { reconnectDelayMs } from "../retry.ts";
import type { Worker, WorkerOptions } from "../worker.ts";

/** What {@link superviseWorker} needs of the outbox: a way to make workers, and its logger. */
export interface WorkerFactory {
  worker(options?: WorkerOptions): Worker;
  readonly logger: Logger;
}

/** A worker kept running through uncaught errors; see {@link superviseWorker}. */
export interface SupervisedWorker {
  /** Stops the current worker gracefully and stops supervising. */
  stop(): Promise<void>;
  /** How many times the worker was replaced after an uncaught error. */
  readonly restarts: number;
}

/** Options of {@link superviseWorker}. */
export interface SuperviseOptions {
  /** More restarts than this within a minute ends supervision: the process exits with code 1. Default 10. */
  maxRestartsPerMinute?: number | undefined;
  /** Where supervision logs. Default: the worker options' logger, else the outbox's. */
  logger?: Logger | undefined;
}

interface ProcessLike {
  on(event: "uncaughtException", listener: (err: unknown) => void): unknown;
  off(event: "uncaughtException", listener: (err: unknown) => void): unknown;
  exit(code: number): never;
}

/**
 * Runs a worker that survives an uncaught error — the database driver can throw one from a timer when a connection
 * drops at the wrong moment (a PostgreSQL restart), which would otherwise end the process. On such an error the
 * worker is replaced in this process: the old one is told to stop (not awaited: its connections may be wedged; the
 * events it held come back when their leases run out) and a new one starts, retrying each second while the database
 * is away. It installs a process-wide `uncaughtException` listener, so use it where the worker owns the process (the
 * CLI does); more than `maxRestartsPerMinute` restarts in a minute exit the process with code 1 for a process
 * manager to handle. Needs `process.on` (Node, Bun, Deno 2).
 *
 * @example
 * ```ts
 * const supervised = await superviseWorker(outbox, { concurrency: 32 });
 * process.on("SIGTERM", async () => {
 *   await supervised.stop();
 *   await outbox.close();
 *   await sql.end();
 * });
 * ```
 */
export async function superviseWorker(outbox: WorkerFactory, options: WorkerOptions = {}, supervise: SuperviseOptions = {}): Promise<SupervisedWorker> {
  const proc = (globalThis as { process?: Partial<ProcessLike> }).process;
  if (typeof proc?.on !== "function" || typeof proc.off !== "function" || typeof proc.exit !== "function") {
    throw new DispatchError("unsupported_runtime", "superviseWorker needs process.on (Node, Bun or Deno 2); run outbox.worker() under a process manager instead.");
  }
  const p = proc as ProcessLike;
  const logger = supervise.logger ?? options.logger ?? outbox.logger;
  const max = supervise.maxRestartsPerMinute ?? 10;
  let worker = outbox.worker(options);
  await worker.start();
  let stopped = false;
  let restarts = 0;
  const recent: number[] = [];
  let starting: Promise<void> | null = null;

  const restart = async (): Promise<void> => {
    for (let attempt = 1; !stopped; attempt++) {
      const next = outbox.worker(options);
      try {
        await next.start();
        worker = next;
        logger.info("worker restarted", { restarts });
        return;
      } catch (err) {
        const delay = reconnectDelayMs(attempt, 250, 1000);
        logger.warn("restarting the worker failed; retrying", { error: err, retryInMs: delay });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  const onCrash = (err: unknown): void => {
    const now = Date.now();
    recent.push(now);
    while (recent.length && recent[0] < now - 60_000) recent.shift();
    logger.error("uncaught error; replacing the worker in this process", { error: err });
    if (recent.length > max) {
      logger.error("too many restarts within a minute; exiting", { restarts: recent.length });
      p.exit(1);
    }
    restarts++;
    const old = worker;
    void old.stop().catch(() => {});
    starting ??= restart().finally(() => (starting = null));
  };
  p.on("uncaughtException", onCrash);
  return {
    get restarts() {
      return restarts;
    },
    async stop() {
      stopped = true;
      await starting;
      p.off("uncaughtException", onCrash);
      await worker.stop();
    },
  };
}
