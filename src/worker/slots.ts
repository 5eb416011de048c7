import { type Congestion, SLOW_MS, type Tracker } from "./congestion.ts";

/**
 * The worker's slots: the events it delivers right now, each with a slot, and those that ran past SLOW_MS and gave
 * their slot back (still held, their deliveries counted as slow). Also how long events have taken lately.
 */
export class Slots {
  readonly #concurrency: number;
  readonly #congestion: Congestion;
  /** Events using a slot, by sequence number. */
  readonly #inFlight = new Map<string, Tracker>();
  /** Events that ran past SLOW_MS: still held (leased), but no longer using a slot. */
  readonly #detached = new Map<string, Tracker>();
  #slotFree: (() => void) | null = null;
  #idle: (() => void) | null = null;
  #eventMs = -1;

  constructor(concurrency: number, congestion: Congestion) {
    this.#concurrency = concurrency;
    this.#congestion = congestion;
  }

  /** Slots not in use (zero or less when all are). */
  get free(): number {
    return this.#concurrency - this.#inFlight.size;
  }

  /** How long events have taken from start to outcome lately (a moving average; -1 before the first). */
  get eventMs(): number {
    return this.#eventMs;
  }

  /** Events held, with a slot or without. */
  get held(): number {
    return this.#inFlight.size + this.#detached.size;
  }

  /** Sequence numbers of every event held. */
  seqs(): string[] {
    return [...this.#inFlight.keys(), ...this.#detached.keys()];
  }

  /** Takes a slot for an event; null when the event is already held. */
  take(seq: string): Tracker | null {
    if (this.#inFlight.has(seq) || this.#detached.has(seq)) return null;
    const tracker: Tracker = { running: new Set(), slow: false, startedAt: Date.now() };
    this.#inFlight.set(seq, tracker);
    return tracker;
  }

  /** The event is finished with (its outcome written or on its way, or given up): its slot is free. */
  finish(seq: string): void {
    const tracker = this.#inFlight.get(seq);
    if (tracker) {
      const ms = Date.now() - tracker.startedAt;
      this.#eventMs = this.#eventMs < 0 ? ms : this.#eventMs + (ms - this.#eventMs) / 64;
      this.#inFlight.delete(seq);
    }
    this.#detached.delete(seq);
    this.#slotFree?.();
    if (this.held === 0) this.#idle?.();
  }

  /** Gives back the slots of events that have run past SLOW_MS; their running deliveries now count as slow. */
  detachSlow(): void {
    const cutoff = Date.now() - SLOW_MS;
    let freed = false;
    for (const [seq, tracker] of this.#inFlight) {
      if (tracker.startedAt > cutoff) continue;
      if (tracker.running.size === 0) continue; // finishing; its outcome is on its way
      this.#congestion.slow(tracker);
      this.#inFlight.delete(seq);
      this.#detached.set(seq, tracker);
      freed = true;
    }
    if (freed) this.#slotFree?.();
  }

  /** Resolves when a slot frees, or when {@link Slots.interrupt} is called. */
  async slotFreed(): Promise<void> {
    await new Promise<void>((resolve) => (this.#slotFree = resolve));
    this.#slotFree = null;
  }

  /** Ends a wait for a slot (the worker is stopping). */
  interrupt(): void {
    this.#slotFree?.();
  }

  /** Resolves when nothing is held, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.held === 0) return;
    const drained = new Promise<void>((resolve) => (this.#idle = resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
