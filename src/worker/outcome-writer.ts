import type { Query } from "../client.ts";
import type { Logger } from "../logger.ts";
import type { Schema } from "../schema.ts";
import type { DeliveryFailure, Outcome } from "../store/complete.ts";
import { writeOutcomes } from "./outcomes.ts";
import { retrying } from "./retrying.ts";

/** What the writer needs from the worker. */
export interface OutcomeWriterDeps {
  query: Query;
  schema: Schema;
  logger: Logger;
  /** The worker's lease: only outcomes of events it still holds are written. */
  lease: string;
  /** Told of each delivery that failed for good, once it is recorded. */
  onFailed: ((failure: DeliveryFailure) => void | Promise<void>) | null;
  /** Whether the worker is stopping (a write that keeps failing is then given up). */
  stopping: () => boolean;
  /** Makes the worker look for due events again. */
  wake: () => void;
  /** How long one try of a write may take (the lease). */
  deadlineMs: number;
}

/**
 * Writes outcomes in batches: while one write is in flight, the next batch gathers. A write that fails is retried
 * until it lands (see retrying.ts); a batch the database refuses is written row by row (see outcomes.ts).
 */
export class OutcomeWriter {
  readonly #deps: OutcomeWriterDeps;
  #outcomes: Outcome[] = [];
  #flushing: Promise<void> | null = null;
  #wakeAfter = false;

  constructor(deps: OutcomeWriterDeps) {
    this.#deps = deps;
  }

  /** Queues an outcome. `wake`: once written, the worker should look again (a retry time was set, a key freed). */
  push(outcome: Outcome, wake: boolean): void {
    this.#outcomes.push(outcome);
    if (wake) this.#wakeAfter = true;
    this.#flushing ??= this.#flush();
  }

  /** Writes a batch now, retrying until it lands. */
  async write(batch: Outcome[]): Promise<void> {
    const { logger, stopping, deadlineMs } = this.#deps;
    await retrying(() => this.#complete(batch), "completing", logger, stopping, deadlineMs);
  }

  /** Resolves once every queued outcome is written. */
  async drained(): Promise<void> {
    await this.#flushing;
  }

  async #flush(): Promise<void> {
    while (this.#outcomes.length) {
      const batch = this.#outcomes.splice(0, 5000);
      const wake = this.#wakeAfter;
      this.#wakeAfter = false;
      await this.write(batch);
      if (wake) this.#deps.wake();
    }
    this.#flushing = null;
  }

  async #complete(batch: Outcome[]): Promise<void> {
    const { query, schema, lease, logger, onFailed } = this.#deps;
    await writeOutcomes(query, schema, batch, lease, logger);
    // Not awaited: a slow hook must not hold up the outcomes behind it.
    if (onFailed) for (const o of batch) for (const f of o.failures ?? []) void this.#tell(onFailed, f);
  }

  /** Runs the onDeliveryFailed hook once the failure is recorded; what it throws is logged, nothing more. */
  async #tell(onFailed: (failure: DeliveryFailure) => void | Promise<void>, failure: DeliveryFailure): Promise<void> {
    try {
      await onFailed(failure);
    } catch (err) {
      this.#deps.logger.error("onDeliveryFailed threw", { error: err, event: failure.event?.id, destination: failure.destination });
    }
  }
}
