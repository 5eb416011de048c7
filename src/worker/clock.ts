/** How long the best sample of the database clock's offset stands before a worse one may replace it. */
const WINDOW_MS = 60_000;

/**
 * The database clock's offset from this process's, learnt from the claims' answers: each carries the database's
 * clock as the statement ended, read here as the answer is handled. An answer handled late (a busy event loop, a
 * slow network) makes a sample too small by that delay and never too large, so the largest recent sample is the
 * closest: it is kept until a larger one comes or a minute has passed (the clocks may have been stepped since).
 * Whole milliseconds: the local clock has no finer grain, and whole numbers are cheaper to write back.
 *
 * @example
 * ```ts
 * const skew = new ClockSkew();
 * skew.sample(Number(rows[0].db_now), Date.now());
 * const dbNow = Date.now() + skew.ms;
 * ```
 */
export class ClockSkew {
  #ms = 0;
  #at = Number.NEGATIVE_INFINITY;

  /** Milliseconds to add to the local clock to get the database's. */
  get ms(): number {
    return this.#ms;
  }

  /** A sample: the database clock when a statement ended (`dbNow`), and the local clock as its answer is read. */
  sample(dbNow: number, localNow: number): void {
    const ms = Math.round(dbNow - localNow);
    if (ms >= this.#ms || localNow - this.#at > WINDOW_MS) {
      this.#ms = ms;
      this.#at = localNow;
    }
  }
}
