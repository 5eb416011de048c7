import { withDeadline } from "../abort.ts";
import type { Query } from "../client.ts";
import type { Logger } from "../logger.ts";
import { assertKnownKeys, optionsObject, wholeNumber } from "../options.ts";
import type { Schema } from "../schema.ts";
import type { Destination } from "../destination.ts";
import { closeCircuit, openCircuit, readControls, type SharedCircuit } from "../store/circuits.ts";
import { wakeDestination } from "../store/destinations.ts";
import { setRate, takeTokens } from "../store/rate-limit.ts";

/** The circuit breaker: after `failures` retryable failures in a row, a destination rests as a whole. */
export interface CircuitBreakerOptions {
  /** Consecutive retryable failures (5xx, timeouts, network errors) that open the circuit. Default 10. */
  failures?: number | undefined;
  /** How long the first opening lasts; each reopening doubles it. Default 5000 ms. */
  cooldownMs?: number | undefined;
  /** The longest opening. Default 300000 ms (5 min). */
  maxCooldownMs?: number | undefined;
}

/** How long a paused destination's deliveries are put off before a worker looks again (a resume wakes them sooner). */
export const PAUSED_RECHECK_MS = 10 * 60_000;
/** While a circuit's one trial attempt runs, other deliveries to it wait this long. */
const TRIAL_WAIT_MS = 1000;
/** The paused set is read again when older than this while the worker has work... */
const FRESH_MS = 1000;
/** ...and read before dispatching when older than this (after idling). */
const STALE_MS = 5000;
/** A read that gets no answer in this time (a connection cut by a server restart) is given up; the last word stands. */
const READ_DEADLINE_MS = 5000;

/** How long a delivery waits for a rate-limited destination's token before it is put off. */
export const RATE_WAIT_MS = 1000;

interface Bucket {
  rate: number;
  /** Tokens taken from the shared bucket and not spent yet. */
  available: number;
  taking: Promise<void> | null;
}

interface Circuit {
  failures: number;
  /** 0 when closed; otherwise the time it may try again. */
  openUntil: number;
  cooldownMs: number;
  /**
   * 0 when no trial runs; otherwise until when the half-open circuit's one trial attempt may run. A trial that ends
   * without a word on the destination (put off by a rate limit, failed for good, or its worker stopped) lets another
   * start at once ({@link Controls.untried}), or once this time has passed.
   */
  trialUntil: number;
}

/**
 * What the worker consults before each attempt: destinations paused by an operator and destinations whose circuit is
 * open, both shared by every worker through the database. Each worker counts failures itself; the first to open a
 * circuit records it, and the others adopt it when they next read the controls. A held delivery is put off without
 * using an attempt.
 */
export class Controls {
  readonly #query: Query;
  readonly #schema: Schema;
  readonly #logger: Logger;
  readonly #breaker: Required<{ [K in keyof CircuitBreakerOptions]: number }> | null;
  #paused = new Set<string>();
  #readAt = 0;
  #reading: Promise<void> | null = null;
  readonly #circuits = new Map<string, Circuit>();
  readonly #buckets = new Map<string, Bucket>();
  /** While something is paused, the set is read every second even when idle, so a resume is seen. */
  #watch: ReturnType<typeof setInterval> | null = null;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #onResume: () => void = () => {};
  #settleMs = 0;
  #stopped = false;

  constructor(deps: { query: Query; schema: Schema; logger: Logger }, breaker: CircuitBreakerOptions | false | undefined) {
    this.#query = deps.query;
    this.#schema = deps.schema;
    this.#logger = deps.logger;
    if (breaker === false) this.#breaker = null;
    else {
      const o = optionsObject(breaker, "circuitBreaker");
      assertKnownKeys(o, ["failures", "cooldownMs", "maxCooldownMs"], "circuitBreaker options");
      const cooldownMs = wholeNumber(o.cooldownMs, "circuitBreaker.cooldownMs", 1, 5000);
      this.#breaker = {
        failures: wholeNumber(o.failures, "circuitBreaker.failures", 1, 10, 1_000_000),
        cooldownMs,
        maxCooldownMs: wholeNumber(o.maxCooldownMs, "circuitBreaker.maxCooldownMs", cooldownMs, Math.max(cooldownMs, 300_000)),
      };
    }
  }

  /**
   * Reads the paused destinations again when the copy is old: waits for the read after an idle spell, otherwise
   * reads in the background. A destination seen resumed has its put-off deliveries made due now — by every worker,
   * so that deliveries a worker put off just before it saw the resume are woken too.
   */
  async refresh(): Promise<void> {
    const age = Date.now() - this.#readAt;
    if (age < FRESH_MS) return;
    this.#reading ??= this.#read().finally(() => (this.#reading = null));
    if (age >= STALE_MS) await this.#reading;
  }

  /**
   * Starts watching. `onResume` wakes the worker's loop; `settleMs` is how long a delivery this worker started before
   * it saw a resume may still take (its timeout): the resumed destination is woken once more after that, in case
   * such a delivery put its event off on the stale word that the destination was paused. It also bounds how long a
   * circuit's trial attempt keeps other trials off.
   */
  start(onResume: () => void, settleMs: number): void {
    this.#onResume = onResume;
    this.#settleMs = settleMs;
  }

  /** Stops every timer. */
  stop(): void {
    this.#stopped = true;
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = null;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  async #read(): Promise<void> {
    try {
      const read = await withDeadline(readControls(this.#query, this.#schema), READ_DEADLINE_MS, "reading destination controls");
      for (const open of read.open) this.#adopt(open);
      const now = new Set(read.paused);
      const resumed = [...this.#paused].filter((name) => !now.has(name));
      this.#paused = now;
      this.#readAt = Date.now();
      if (now.size && !this.#watch && !this.#stopped) this.#watch = setInterval(() => void this.refresh(), FRESH_MS);
      if (!now.size && this.#watch) {
        clearInterval(this.#watch);
        this.#watch = null;
      }
      for (const name of resumed) {
        await this.#wake(name);
        const later = setTimeout(() => {
          this.#timers.delete(later);
          void this.#wake(name);
        }, this.#settleMs);
        this.#timers.add(later);
      }
    } catch (err) {
      this.#logger.warn("reading destination controls failed; keeping the last known", { error: err });
    }
  }

  async #wake(name: string): Promise<void> {
    if (this.#stopped) return;
    try {
      await withDeadline(wakeDestination(this.#query, this.#schema, name), READ_DEADLINE_MS, "waking a resumed destination");
      this.#onResume();
    } catch (err) {
      this.#logger.warn("waking a resumed destination's deliveries failed; the sweep will find them", { error: err, destination: name });
    }
  }

  /** Records each rate-limited destination's limit in the database, where every worker's bucket is shared. */
  async configure(destinations: readonly Destination[]): Promise<void> {
    for (const d of destinations) {
      if (d.rateLimit === undefined) continue;
      await setRate(this.#query, this.#schema, d.name, d.rateLimit);
      this.#buckets.set(d.name, { rate: d.rateLimit, available: 0, taking: null });
    }
  }

  /**
   * Waits (up to {@link RATE_WAIT_MS}) for a token of a rate-limited destination; false when none came, and the
   * delivery should be put off. True at once for a destination without a limit.
   */
  async token(name: string): Promise<boolean> {
    const b = this.#buckets.get(name);
    if (!b) return true;
    const deadline = Date.now() + RATE_WAIT_MS;
    for (;;) {
      if (b.available >= 1) {
        b.available--;
        return true;
      }
      b.taking ??= this.#take(name, b).finally(() => (b.taking = null));
      await b.taking;
      if (!this.#buckets.has(name)) return true;
      if (b.available >= 1) {
        b.available--;
        return true;
      }
      const wait = Math.max(5, Math.round(1000 / b.rate));
      if (this.#stopped || Date.now() + wait > deadline) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Takes about a tenth of a second's worth of tokens at once, so the shared row is touched a few times a second. */
  async #take(name: string, b: Bucket): Promise<void> {
    try {
      const got = await takeTokens(this.#query, this.#schema, name, Math.max(1, Math.ceil(b.rate / 10)));
      if (!got) this.#buckets.delete(name); // the limit was removed
      else {
        b.available += got.granted;
        b.rate = got.rate;
      }
    } catch (err) {
      this.#logger.warn("taking rate-limit tokens failed", { error: err, destination: name });
    }
  }

  /** Milliseconds to put off a delivery to `name` without attempting it, or 0 to attempt it now. */
  holdMs(name: string, now: number): number {
    if (this.#paused.has(name)) return PAUSED_RECHECK_MS;
    const c = this.#circuits.get(name);
    if (!c || c.openUntil === 0) return 0;
    if (now < c.trialUntil) return TRIAL_WAIT_MS;
    if (now < c.openUntil) return c.openUntil - now + Math.round(Math.random() * 250);
    c.trialUntil = now + this.#settleMs + TRIAL_WAIT_MS; // half-open: this attempt is the trial
    return 0;
  }

  /**
   * A delivery that {@link holdMs} let through ended without a word on whether the destination is back: put off for
   * a rate-limit token, or failed for good (that event's own fault). If it was the trial, another may start now.
   */
  untried(name: string): void {
    const c = this.#circuits.get(name);
    if (c) c.trialUntil = 0;
  }

  /** An attempt succeeded: the circuit closes, for every worker when it was open. */
  succeeded(name: string): void {
    const c = this.#circuits.get(name);
    if (!c) return;
    this.#circuits.delete(name);
    if (!c.openUntil) return;
    this.#logger.info("circuit closed", { destination: name });
    void this.#share("closing", name, () => closeCircuit(this.#query, this.#schema, name));
  }

  /**
   * A circuit another worker opened: this worker rests the destination too, until the same time (and counts a
   * failed trial from the same cooldown). One it has open already for longer, or whose trial it is running, is kept.
   */
  #adopt(shared: SharedCircuit): void {
    if (!this.#breaker) return;
    const until = Date.now() + shared.openMs;
    const c = this.#circuits.get(shared.name);
    if (c && (c.trialUntil !== 0 || c.openUntil >= until)) return;
    if (!c || c.openUntil === 0) {
      this.#logger.info("circuit opened by another worker: deliveries to this destination rest", { destination: shared.name, openMs: Math.round(shared.openMs) });
    }
    const cooldownMs = Math.max(c?.cooldownMs ?? 0, shared.cooldownMs, this.#breaker.cooldownMs);
    this.#circuits.set(shared.name, { failures: Math.max(c?.failures ?? 0, this.#breaker.failures), openUntil: until, cooldownMs, trialUntil: 0 });
  }

  /** Writes a circuit's change for the other workers; on failure this worker's own circuit still holds. */
  async #share(what: string, name: string, write: () => Promise<void>): Promise<void> {
    if (this.#stopped) return;
    try {
      await withDeadline(write(), READ_DEADLINE_MS, `${what} a shared circuit`);
    } catch (err) {
      this.#logger.warn(`${what} the shared circuit failed; other workers learn of it from their own failures`, { error: err, destination: name });
    }
  }

  /** A retryable attempt failed: the circuit opens after enough in a row, and reopens (longer) after a failed trial. */
  failed(name: string, now: number): void {
    if (!this.#breaker) return;
    const c = this.#circuits.get(name) ?? { failures: 0, openUntil: 0, cooldownMs: 0, trialUntil: 0 };
    this.#circuits.set(name, c);
    c.failures++;
    const reopen = c.trialUntil !== 0;
    if (!reopen && (c.openUntil || c.failures < this.#breaker.failures)) return;
    c.cooldownMs = reopen ? Math.min(c.cooldownMs * 2, this.#breaker.maxCooldownMs) : this.#breaker.cooldownMs;
    c.openUntil = now + c.cooldownMs;
    c.trialUntil = 0;
    this.#logger.warn("circuit opened: deliveries to this destination rest", { destination: name, failures: c.failures, cooldownMs: c.cooldownMs });
    const cooldownMs = c.cooldownMs;
    void this.#share("opening", name, () => openCircuit(this.#query, this.#schema, name, cooldownMs));
  }
}
