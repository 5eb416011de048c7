import { withDeadline } from "../abort.ts";
import type { Logger } from "../logger.ts";
import { reconnectDelayMs } from "../retry.ts";

/**
 * Retries a write the worker must not lose (outcomes, a release, a lapse count) until it lands, with the reconnect
 * backoff; once the worker is stopping it gives up after five tries and says what that means. Each try gets
 * `deadlineMs` (the worker's lease: past it the write is moot): a query the driver never settles, on a connection a
 * server restart cut, must not hold every later write behind it. The writes are guarded by the lease, so one that
 * landed after all and is sent again changes nothing.
 */
export async function retrying(
  write: () => Promise<void>,
  what: string,
  logger: Logger,
  stopping: () => boolean,
  deadlineMs: number,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withDeadline(write(), deadlineMs, what);
    } catch (err) {
      if (stopping() && attempt >= 5) {
        logger.error(`${what} failed; leases will expire and the events will be redelivered`, { error: err });
        return;
      }
      const retryMs = reconnectDelayMs(attempt, 200, 5000);
      // Loud once it keeps failing: while outcomes cannot be written, every event this worker holds is redelivered.
      const log = attempt >= 5 ? logger.error : logger.warn;
      log.call(logger, `${what} failed; retrying`, { error: err, attempt, retryInMs: retryMs });
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
