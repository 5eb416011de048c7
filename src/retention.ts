import type { Query } from "./client.ts";
import type { Logger } from "./logger.ts";
import { assertKnownKeys, optionsObject, wholeNumber } from "./options.ts";
import type { Schema } from "./schema.ts";
import { deleteOldHistory } from "./store/history.ts";
import { deleteOld } from "./store/retention.ts";

/** How long finished events are kept. */
export interface RetentionOptions {
  /** Published events older than this are deleted. Default 7 days. */
  publishedMs?: number | undefined;
  /** Failed events are kept longer, for a person to look at and retry. Default 30 days. */
  failedMs?: number | undefined;
  /** Attempts in the attempt history older than this are deleted, whatever became of their event. Default 7 days. */
  historyMs?: number | undefined;
  /** How often the worker deletes. Default 60000 ms. */
  intervalMs?: number | undefined;
  /** Rows per delete statement. Default 500. */
  batchSize?: number | undefined;
}

const DAY = 86_400_000;

/** The worker's background duty of deleting old finished events, a small batch at a time. */
export class Retention {
  readonly #query: Query;
  readonly #schema: Schema;
  readonly #logger: Logger;
  readonly #publishedMs: number;
  readonly #failedMs: number;
  readonly #historyMs: number;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #run: Promise<void> | null = null;
  #stopped = false;

  constructor(deps: { query: Query; schema: Schema; logger: Logger }, options: RetentionOptions | undefined) {
    const o = optionsObject(options, "retention");
    assertKnownKeys(o, ["publishedMs", "failedMs", "historyMs", "intervalMs", "batchSize"], "retention options");
    this.#query = deps.query;
    this.#schema = deps.schema;
    this.#logger = deps.logger;
    this.#publishedMs = wholeNumber(o.publishedMs, "retention.publishedMs", 0, 7 * DAY);
    this.#failedMs = wholeNumber(o.failedMs, "retention.failedMs", 0, 30 * DAY);
    this.#historyMs = wholeNumber(o.historyMs, "retention.historyMs", 0, 7 * DAY);
    this.#intervalMs = wholeNumber(o.intervalMs, "retention.intervalMs", 10, 60_000);
    this.#batchSize = wholeNumber(o.batchSize, "retention.batchSize", 1, 500, 100_000);
  }

  start(): void {
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#run;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#run = this.sweep().then(() => this.#schedule());
    }, this.#intervalMs);
  }

  /**
   * Deletes old events, then old attempts, batch by batch until a batch comes back short. Returns how many events
   * were deleted.
   */
  async sweep(): Promise<number> {
    const events = await this.#batches("events", () => deleteOld(this.#query, this.#schema, this.#publishedMs, this.#failedMs, this.#batchSize));
    await this.#batches("attempts", () => deleteOldHistory(this.#query, this.#schema, this.#historyMs, this.#batchSize));
    return events;
  }

  async #batches(what: string, deleteBatch: () => Promise<number>): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const n = await deleteBatch();
        total += n;
        if (n < this.#batchSize || this.#stopped) break;
      }
    } catch (err) {
      this.#logger.warn("retention failed; will try again", { error: err, table: what });
    }
    if (total) this.#logger.info(`retention deleted old ${what}`, { count: total });
    return total;
  }
}
