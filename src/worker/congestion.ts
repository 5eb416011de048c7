/** How long a delivery may run before it counts as slow. */
export const SLOW_MS = 1000;

/** One event's deliveries in flight, as the worker and dispatch share them. */
export interface Tracker {
  /** Destinations this event is being delivered to right now. */
  running: Set<string>;
  /** Set once the event has run past SLOW_MS: its running deliveries then count as slow. */
  slow: boolean;
  startedAt: number;
}

/**
 * Keeps a slow destination (one that hangs until its timeout) from holding every worker slot while healthy ones
 * wait. An event still running after SLOW_MS gives its slot back and its running deliveries count as slow; a
 * destination with `limit` slow deliveries is saturated, and new deliveries to it are deferred, without using an
 * attempt, until it frees up.
 */
export class Congestion {
  readonly #slow = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** True when the destination already has its share of slow deliveries. */
  saturated(name: string): boolean {
    return (this.#slow.get(name) ?? 0) >= this.#limit;
  }

  /** Marks an event's running deliveries slow. */
  slow(tracker: Tracker): void {
    tracker.slow = true;
    for (const name of tracker.running) this.#slow.set(name, (this.#slow.get(name) ?? 0) + 1);
  }

  /** A delivery ended: if it was counted slow, it no longer is. */
  ended(tracker: Tracker, name: string): void {
    tracker.running.delete(name);
    if (!tracker.slow) return;
    const n = (this.#slow.get(name) ?? 1) - 1;
    if (n > 0) this.#slow.set(name, n);
    else this.#slow.delete(name);
  }
}
