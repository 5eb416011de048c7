import { withDeadline } from "../abort.ts";
import type { Query } from "../client.ts";
import type { Logger } from "../logger.ts";
import type { Schema } from "../schema.ts";
import { nextDue } from "../store/claim.ts";
import type { WakeReason } from "./wake.ts";

/**
 * Wakes the worker when an event has fallen due, by asking the database every `intervalMs`: the fallback that works
 * through any pooler and on any server. Each look is one query on the due index (the worker's own "when is the next
 * event due" question), so the idle cost is 1000 / intervalMs queries per second and the latency at most one interval.
 */
export class Poller {
  readonly #query: Query;
  readonly #schema: Schema;
  readonly #intervalMs: number;
  readonly #wake: (reason: WakeReason) => void;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #failing = false;

  constructor(query: Query, schema: Schema, intervalMs: number, wake: (reason: WakeReason) => void, logger: Logger) {
    this.#query = query;
    this.#schema = schema;
    this.#intervalMs = intervalMs;
    this.#wake = wake;
    this.#logger = logger;
  }

  /** Starts looking; the first look is a sweep. */
  start(): void {
    this.#wake("connect");
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#look(), this.#intervalMs);
  }

  async #look(): Promise<void> {
    try {
      // Bounded, so that one query the driver never settles cannot stop the polling.
      const inMs = await withDeadline(nextDue(this.#query, this.#schema), Math.max(5000, this.#intervalMs * 10), "polling");
      if (this.#failing) this.#logger.info("polling recovered", { schema: this.#schema.name });
      this.#failing = false;
      if (inMs !== null && inMs <= 0) this.#wake("poll");
    } catch (err) {
      // Once per outage: the worker's own loop reports the database trouble in detail.
      if (!this.#failing) this.#logger.warn("polling failed; retrying every interval", { error: err, intervalMs: this.#intervalMs });
      this.#failing = true;
    } finally {
      this.#schedule();
    }
  }

  /** Stops looking. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
  }
}
