import type { Sql } from "postgres";
import { type Abortable, withDeadline } from "./abort.ts";
import type { Query } from "./client.ts";
import { Congestion, SLOW_MS, type Tracker } from "./congestion.ts";
import { dispatch, type DispatchContext, type Transactions } from "./dispatch.ts";
import { DispatchError } from "./errors.ts";
import { preflight } from "./preflight.ts";
import type { Logger } from "./logger.ts";
import { assertKnownKeys, assertLogger, optionsObject, wholeNumber } from "./options.ts";
import type { Registry } from "./registry.ts";
import { reconnectDelayMs, type RetryPolicy } from "./retry.ts";
import type { Schema } from "./schema.ts";
import { claim, type ClaimedRow, nextDue } from "./store/claim.ts";
import { type DeliveryFailure, type Outcome, release } from "./store/complete.ts";
import { countLapsed } from "./store/lapsed.ts";
import { type CircuitBreakerOptions, Controls } from "./worker/controls.ts";
import { writeOutcomes } from "./worker/outcomes.ts";
import { repair } from "./store/repair.ts";
import { startWaker, type WakeMode, type WakeReason, type Waker } from "./worker/wake.ts";
import { Retention, type RetentionOptions } from "./retention.ts";
import type { Telemetry } from "./telemetry.ts";
import { DEFAULT_WORKER } from "./worker/defaults.ts";

/** Worker settings. */
export interface WorkerOptions {
  /** Events delivered at the same time. Default 32. */
  concurrency?: number | undefined;
  /** Most events claimed in one statement. Default: concurrency. */
  batchSize?: number | undefined;
  /** How long a claim lasts; a crashed worker's events come back after this. Must exceed handlerTimeoutMs. Default 30000. */
  leaseMs?: number | undefined;
  /** The safety sweep for anything a notification did not announce. Default 30000. */
  sweepIntervalMs?: number | undefined;
  /** The longest one delivery may take before it fails as timed out. Default 10000. */
  handlerTimeoutMs?: number | undefined;
  /** How long `stop()` waits for in-flight deliveries before releasing them. Default 10000. */
  stopTimeoutMs?: number | undefined;
  /** Deleting old finished events; `false` keeps everything. */
  retention?: RetentionOptions | false | undefined;
  /** Where this worker logs (the CLI passes its JSON logger). Default: the outbox's logger. */
  logger?: Logger | undefined;
  /** Record every attempt in the attempt history (`getEvent(id, { history: true })`). Default true. */
  history?: boolean | undefined;
  /**
   * A poison event: after its lease ran out this many times without an outcome (the worker holding it crashed,
   * exited or stalled), its due deliveries fail for good instead of taking down the next worker. A graceful stop
   * does not count. Default 3.
   */
  maxLeaseExpiries?: number | undefined;
  /**
   * After this many retryable failures in a row at one destination, its deliveries rest (without using attempts)
   * for a cooldown that doubles while trial attempts keep failing; the first success closes it. `false` turns it off.
   * Default `{ failures: 10, cooldownMs: 5000, maxCooldownMs: 300000 }`.
   */
  circuitBreaker?: CircuitBreakerOptions | false | undefined;
  /**
   * Called after a delivery that failed for good has been recorded, so someone can be told (page, ticket, chat).
   * Runs in the worker, not awaited by the outcome writer; its errors are logged and change nothing.
   */
  onDeliveryFailed?: ((failure: DeliveryFailure) => void | Promise<void>) | undefined;
  /**
   * How often the worker asks for due events when it polls: in the outbox's `wake: "poll"` mode, and when the
   * notify mode finds that LISTEN does not work (a transaction pooler). Each look is one query. Default 100.
   */
  pollIntervalMs?: number | undefined;
}

/** What the worker needs from the outbox. */
export interface WorkerDeps {
  sql: Sql;
  query: Query;
  schema: Schema;
  registry: Registry;
  retry: RetryPolicy;
  logger: Logger;
  telemetry: Telemetry;
  /** How this worker learns of new events; see {@link WakeMode}. Default "notify". */
  wake?: WakeMode;
  /** A direct connection for LISTEN or the WAL stream, past a transaction pooler. Default: where `sql` connects. */
  listenUrl?: string | undefined;
}

/**
 * Claiming ahead pays while events finish in about the time a claim takes. Past this (a webhook, a broker), the slots
 * free one by one, the claim's round trip is a small share of an event's time, and keeping every slot busy without a
 * pause only lengthens each delivery: at 500 concurrent requests to one endpoint, deliveries ran past the slow mark
 * (SLOW_MS) and were put off as congestion (bench/RESULTS.md, "Dispatch regression").
 */
const AHEAD_EVENT_MS = 50;

/** How long after finishing an event of an ordering key the worker checks that key for a lost release. */
const RECHECK_MS = 2000;

const WORKER_KEYS = [
  "concurrency", "batchSize", "leaseMs", "sweepIntervalMs", "handlerTimeoutMs", "stopTimeoutMs", "retention", "logger",
  "history", "maxLeaseExpiries", "circuitBreaker", "onDeliveryFailed", "pollIntervalMs",
] as const;

/**
 * The outbox worker (Django Dispatch's `manage.py outbox_worker`). It listens for commits, claims due events in batches,
 * delivers them to their destinations, and writes the outcomes back in batches.
 *
 * @example
 * ```ts
 * const worker = outbox.worker({ concurrency: 32 });
 * await worker.start();
 * process.on("SIGTERM", () => worker.stop());
 * ```
 */
export class Worker {
  readonly #deps: WorkerDeps;
  readonly #concurrency: number;
  readonly #batchSize: number;
  readonly #leaseMs: number;
  readonly #sweepMs: number;
  readonly #handlerTimeoutMs: number;
  readonly #stopTimeoutMs: number;
  readonly #retention: Retention | null;
  readonly #history: boolean;
  readonly #maxLeaseExpiries: number;
  readonly #controls: Controls;
  readonly #onFailed: ((failure: DeliveryFailure) => void | Promise<void>) | null;
  readonly #pollMs: number;
  /** The chain of events whose last lease lapsed, attempted one at a time. */
  #lapsedTurn: Promise<void> = Promise.resolve();
  /** This worker's lease token: every event it holds carries it. */
  readonly #lease = crypto.randomUUID();
  /** What a transactional handler's attempt commits with (the same for every event). */
  readonly #transactions: Transactions;
  /** Attempts in flight; aborted when stop() gives up on them. */
  readonly #attempts = new Set<Abortable>();
  readonly #congestion: Congestion;
  /** Events that ran past SLOW_MS: still held (leased), but no longer using a slot. */
  readonly #detached = new Map<string, Tracker>();
  #slowCheck: ReturnType<typeof setInterval> | null = null;
  #stopGauges: (() => void) | null = null;
  #abandoned = false;

  #waker: Waker | null = null;
  #running = false;
  #stopping = false;
  #loop: Promise<void> | null = null;
  #woken = false;
  #wakeUp: (() => void) | null = null;
  #slotFree: (() => void) | null = null;
  /** Events using a slot, by sequence number. */
  #inFlight = new Map<string, Tracker>();
  #idle: (() => void) | null = null;
  #outcomes: Outcome[] = [];
  /** Events claimed ahead of free slots (see #run), and when; they hold this worker's lease but no slot yet. */
  #ahead: ClaimedRow[] = [];
  #aheadAt = 0;
  /** The last claim filled its limit: more events are probably due. */
  #full = false;
  /** How long a batch claimed ahead may wait for slots: its lease must still cover a whole attempt after that. */
  readonly #aheadMs: number;
  /** How long events have taken from start to outcome lately (a moving average; -1 before the first). */
  #eventMs = -1;
  #flushing: Promise<void> | null = null;
  #wakeAfterFlush = false;
  #skewMs = 0;
  /** When the next repair of parked events is due (see store/repair.ts): at start, on reconnect, every sweep. */
  #repairAt = 0;
  /**
   * Ordering keys this worker finished an event of, and when. A publisher whose transaction was open at that moment
   * may have parked an event the finish could not see; the loop looks at these keys again for RECHECK_MS.
   */
  readonly #freed = new Map<string, number>();

  constructor(deps: WorkerDeps, options: WorkerOptions = {}) {
    const o = optionsObject(options, "worker");
    assertKnownKeys(o, WORKER_KEYS, "worker options");
    assertLogger(o.logger);
    this.#deps = o.logger ? { ...deps, logger: o.logger } : deps;
    this.#transactions = { sql: this.#deps.sql, schema: this.#deps.schema, lease: this.#lease };
    const d = DEFAULT_WORKER;
    this.#concurrency = wholeNumber(o.concurrency, "concurrency", 1, d.concurrency, 10_000);
    this.#batchSize = wholeNumber(o.batchSize, "batchSize", 1, Math.min(this.#concurrency, 1000), 10_000);
    this.#handlerTimeoutMs = wholeNumber(o.handlerTimeoutMs, "handlerTimeoutMs", 1, d.handlerTimeoutMs);
    this.#leaseMs = wholeNumber(o.leaseMs, "leaseMs", 1, Math.max(d.leaseMs, this.#handlerTimeoutMs * 2));
    this.#sweepMs = wholeNumber(o.sweepIntervalMs, "sweepIntervalMs", 10, d.sweepIntervalMs);
    this.#stopTimeoutMs = wholeNumber(o.stopTimeoutMs, "stopTimeoutMs", 0, d.stopTimeoutMs);
    if (this.#leaseMs <= this.#handlerTimeoutMs) {
      throw new DispatchError(
        "invalid_option",
        `leaseMs (${this.#leaseMs}) must be longer than handlerTimeoutMs (${this.#handlerTimeoutMs}), or a slow delivery could run twice at once.`,
      );
    }
    if (o.history !== undefined && typeof o.history !== "boolean") {
      throw new DispatchError("invalid_option", "history must be true or false.", { field: "history" });
    }
    this.#history = o.history !== false;
    this.#aheadMs = this.#leaseMs - this.#handlerTimeoutMs - 1000;
    this.#maxLeaseExpiries = wholeNumber(o.maxLeaseExpiries, "maxLeaseExpiries", 1, d.maxLeaseExpiries, 1000);
    this.#controls = new Controls(this.#deps, o.circuitBreaker);
    if (o.onDeliveryFailed !== undefined && typeof o.onDeliveryFailed !== "function") {
      throw new DispatchError("invalid_option", "onDeliveryFailed must be a function.", { field: "onDeliveryFailed" });
    }
    this.#onFailed = o.onDeliveryFailed ?? null;
    this.#pollMs = wholeNumber(o.pollIntervalMs, "pollIntervalMs", 10, 100, 60_000);
    this.#retention = o.retention === false ? null : new Retention(this.#deps, o.retention);
    this.#congestion = new Congestion(Math.max(1, Math.floor(this.#concurrency / 2)));
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#running;
  }

  /** How this worker is woken while running: the outbox's mode, or "poll" when notify fell back to polling. */
  get wake(): WakeMode | null {
    return this.#waker?.mode ?? null;
  }

  /** Starts listening and delivering. Resolves once the wake-up source is up (LISTEN tested, or the WAL followed). */
  async start(): Promise<void> {
    if (this.#running) throw new DispatchError("invalid_state", "This worker is already running.");
    if (this.#stopping) throw new DispatchError("invalid_state", "A stopped worker cannot be restarted; create a new one.");
    await preflight(this.#deps);
    await this.#controls.configure(this.#deps.registry.all());
    const { sql, query, schema, logger, wake, listenUrl } = this.#deps;
    this.#waker = await startWaker(
      { sql, query, schema, logger, mode: wake ?? "notify", listenUrl, pollIntervalMs: this.#pollMs },
      (reason) => this.#onWake(reason),
    );
    this.#running = true;
    this.#loop = this.#run();
    this.#slowCheck = setInterval(() => this.#detachSlow(), SLOW_MS / 4);
    this.#retention?.start();
    this.#controls.start(() => this.#wake(), this.#handlerTimeoutMs + 2000);
    this.#stopGauges = await this.#deps.telemetry.observe();
    logger.info("worker started", { schema: schema.name, concurrency: this.#concurrency, lease: this.#lease, wake: this.#waker.mode });
  }

  /**
   * Stops gracefully: no new claims; in-flight deliveries get `stopTimeoutMs` to finish, and whatever is still
   * running after that is handed back (due now, lease cleared) for another worker.
   */
  async stop(): Promise<void> {
    if (!this.#running || this.#stopping) return;
    this.#stopping = true;
    this.#stopGauges?.();
    await this.#retention?.stop();
    this.#wake();
    this.#slotFree?.();
    await this.#loop;
    if (this.#ahead.length) {
      // Claimed ahead and never started: handed back at once for another worker, not waited for.
      const seqs = this.#ahead.map((row) => String(row.seq));
      this.#ahead = [];
      await this.#retrying(() => release(this.#deps.query, this.#deps.schema, seqs, this.#lease), "release");
    }
    if (this.#held() > 0) {
      const drained = new Promise<void>((resolve) => (this.#idle = resolve));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, this.#stopTimeoutMs)))]);
      clearTimeout(timer);
    }
    if (this.#slowCheck) clearInterval(this.#slowCheck);
    this.#controls.stop();
    const abandoned = [...this.#inFlight.keys(), ...this.#detached.keys()];
    if (abandoned.length) {
      this.#abandoned = true;
      const reason = new DispatchError("worker_stopped", "The worker stopped before this delivery finished.");
      for (const attempt of this.#attempts) attempt.abort(reason);
      await this.#retrying(() => release(this.#deps.query, this.#deps.schema, abandoned, this.#lease), "release");
      this.#deps.logger.warn("released unfinished events", { count: abandoned.length });
    }
    await this.#flushing;
    await this.#waker?.stop();
    this.#running = false;
    this.#deps.logger.info("worker stopped", { lease: this.#lease });
  }

  #onWake(reason: WakeReason): void {
    if (reason === "connect") {
      this.#deps.logger.debug("wake-up source connected; sweeping");
      this.#repairAt = 0;
    }
    this.#wake();
  }

  #wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#woken) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wakeUp = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wakeUp = null;
  }

  async #run(): Promise<void> {
    const { query, schema, logger } = this.#deps;
    let failures = 0;
    // Consecutive "due now, yet nothing claimed": a row locked by another claim in flight, or by someone's open
    // transaction. Back off, so a long-held lock cannot turn the loop into a busy poll.
    let idleDue = 0;
    while (!this.#stopping) {
      const free = this.#concurrency - this.#inFlight.size;
      if (free > 0 && this.#ahead.length) {
        await this.#startAhead(free);
        continue;
      }
      // Every slot taken after a full claim: more is likely waiting, so the next batch is claimed now and started as
      // slots free, and the database's work on it overlaps this process's on the batch in flight.
      const ahead = free <= 0 && this.#full && this.#ahead.length === 0 && this.#aheadMs > 0 && this.#eventMs >= 0 &&
        this.#eventMs < AHEAD_EVENT_MS;
      if (free <= 0 && !ahead) {
        await new Promise<void>((resolve) => (this.#slotFree = resolve));
        this.#slotFree = null;
        continue;
      }
      this.#woken = false;
      const limit = ahead ? this.#batchSize : Math.min(free, this.#batchSize);
      let rows: ClaimedRow[];
      let waitMs: number | null;
      try {
        if (Date.now() >= this.#repairAt) {
          await repair(query, schema);
          this.#repairAt = Date.now() + this.#sweepMs;
        }
        // Bounded: a query the driver never settles (a connection cut by a server restart) must not stop this loop.
        rows = await withDeadline(claim(query, schema, limit, this.#lease, this.#leaseMs), this.#leaseMs, "claiming");
        if (rows.length) {
          // The clock skew first: it must be read as the claim's answer arrives, before any other round trip.
          // Whole milliseconds: the local clock has no finer grain, and whole numbers are cheaper to write back.
          this.#skewMs = Math.round(Number(rows[0].db_now) - Date.now());
          await this.#controls.refresh();
          if (ahead) {
            this.#ahead = rows;
            this.#aheadAt = Date.now();
          } else for (const row of rows) this.#start(row);
        }
        this.#full = rows.length === limit;
        if (ahead) {
          // Slots free as the batch in flight finishes; the due look waits until the claim is made with free slots.
          failures = 0;
          continue;
        }
        if (rows.length < limit && this.#freed.size && (await this.#recheckFreed()) > 0) continue;
        if (rows.length === limit || this.#woken || this.#stopping) continue;
        waitMs = await withDeadline(nextDue(query, schema), this.#leaseMs, "looking for the next due event");
        failures = 0;
      } catch (err) {
        failures++;
        const retryMs = reconnectDelayMs(failures, 200, 5000);
        logger.warn("claiming failed; retrying", { error: err, retryInMs: retryMs });
        await this.#sleep(retryMs);
        continue;
      }
      idleDue = rows.length === 0 && waitMs === 0 ? idleDue + 1 : 0;
      const backoff = idleDue ? Math.min(5 * 2 ** idleDue, 1000) : 0;
      await this.#sleep(Math.min(Math.max(waitMs ?? this.#sweepMs, backoff), this.#sweepMs));
    }
  }

  /**
   * Starts events of the batch claimed ahead as slots allow. A batch that waited so long that what is left of its
   * lease could not cover an attempt (every slot held by slow deliveries) is handed back instead, due now.
   */
  async #startAhead(free: number): Promise<void> {
    if (Date.now() - this.#aheadAt > this.#aheadMs) {
      const seqs = this.#ahead.map((row) => String(row.seq));
      this.#ahead = [];
      await this.#retrying(() => release(this.#deps.query, this.#deps.schema, seqs, this.#lease), "release");
      return;
    }
    const rows = this.#ahead.length <= free ? this.#ahead : this.#ahead.splice(0, free);
    if (rows === this.#ahead) this.#ahead = [];
    for (const row of rows) this.#start(row);
  }

  /** Releases events parked behind recently finished keys that no finish released; see {@link Worker.#freed}. */
  async #recheckFreed(): Promise<number> {
    const since = Date.now() - RECHECK_MS;
    for (const [key, at] of this.#freed) if (at < since) this.#freed.delete(key);
    return this.#freed.size ? await repair(this.#deps.query, this.#deps.schema, [...this.#freed.keys()]) : 0;
  }

  /** Events this worker holds, with a slot or without. */
  #held(): number {
    return this.#inFlight.size + this.#detached.size;
  }

  /** Gives back the slots of events that have run past SLOW_MS; their running deliveries now count as slow. */
  #detachSlow(): void {
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

  #start(row: ClaimedRow): void {
    const seq = String(row.seq);
    if (this.#inFlight.has(seq) || this.#detached.has(seq)) return;
    const tracker: Tracker = { running: new Set(), slow: false, startedAt: Date.now() };
    this.#inFlight.set(seq, tracker);
    const ctx: DispatchContext = {
      registry: this.#deps.registry,
      retry: this.#deps.retry,
      logger: this.#deps.logger,
      handlerTimeoutMs: this.#handlerTimeoutMs,
      skewMs: this.#skewMs,
      running: this.#attempts,
      congestion: this.#congestion,
      tracker,
      history: this.#history,
      maxLeaseExpiries: this.#maxLeaseExpiries,
      controls: this.#controls,
      transactions: this.#transactions,
      telemetry: this.#deps.telemetry,
    };
    if (row.lease_lapsed === true) {
      this.#alone(row, ctx);
      return;
    }
    dispatch(row, ctx).then(
      (outcome) => {
        if (row.ordering_key != null && outcome.next_attempt_at === null) {
          // A busy worker rechecks rarely; past this many keys the sweep's repair covers the rest.
          if (this.#freed.size < 10_000) this.#freed.set(String(row.ordering_key), Date.now());
        }
        this.#finish(seq, outcome, row.ordering_key != null || outcome.next_attempt_at !== null);
      },
      (err) => {
        // dispatch catches delivery errors itself; this is a bug or a malformed row. The lease brings it back.
        this.#deps.logger.error("dispatch crashed", { event: row.id, error: err });
        this.#finish(seq, null, false);
      },
    );
  }

  /**
   * Attempts an event whose last lease lapsed (its worker stopped without an outcome), one such event at a time: the
   * attempt is counted in the database before it starts and its outcome is written before the next one starts, so a
   * process that dies now has counted only this event, not the others it held. See migration 005.
   */
  #alone(row: ClaimedRow, ctx: DispatchContext): void {
    const seq = String(row.seq);
    const { query, schema, logger } = this.#deps;
    this.#lapsedTurn = this.#lapsedTurn.then(async () => {
      let outcome: Outcome | null = null;
      try {
        const stops = Number(row.lease_expiries ?? 0) + 1;
        if (stops < this.#maxLeaseExpiries) {
          let counted: number | null = null;
          await this.#retrying(async () => void (counted = await countLapsed(query, schema, seq, this.#lease, this.#leaseMs)), "counting a lapsed lease");
          if (counted === null) return; // no longer ours: another worker took it over
        }
        outcome = await dispatch(row, ctx);
        if (!this.#abandoned) {
          const written = outcome;
          await this.#retrying(() => this.#complete([written]), "completing");
        }
      } catch (err) {
        logger.error("dispatch crashed", { event: row.id, error: err });
      } finally {
        this.#finish(seq, null, outcome !== null);
        if (outcome) this.#wake();
      }
    });
  }

  /** `wake`: after writing, the loop should look again (a retry time was set, or an ordering key was freed). */
  #finish(seq: string, outcome: Outcome | null, wake: boolean): void {
    if (outcome && !this.#abandoned) {
      this.#outcomes.push(outcome);
      if (wake) this.#wakeAfterFlush = true;
      this.#flushing ??= this.#flush();
    }
    const tracker = this.#inFlight.get(seq);
    if (tracker) {
      const ms = Date.now() - tracker.startedAt;
      this.#eventMs = this.#eventMs < 0 ? ms : this.#eventMs + (ms - this.#eventMs) / 64;
      this.#inFlight.delete(seq);
    }
    this.#detached.delete(seq);
    this.#slotFree?.();
    if (this.#held() === 0) this.#idle?.();
  }

  /** Writes outcomes in batches: while one write is in flight, the next batch gathers. */
  async #flush(): Promise<void> {
    while (this.#outcomes.length) {
      const batch = this.#outcomes.splice(0, 5000);
      const wake = this.#wakeAfterFlush;
      this.#wakeAfterFlush = false;
      await this.#retrying(() => this.#complete(batch), "completing");
      if (wake) this.#wake();
    }
    this.#flushing = null;
  }

  async #complete(batch: Outcome[]): Promise<void> {
    await writeOutcomes(this.#deps.query, this.#deps.schema, batch, this.#lease, this.#deps.logger);
    // Not awaited: a slow hook must not hold up the outcomes behind it.
    if (this.#onFailed) for (const o of batch) for (const f of o.failures ?? []) void this.#tell(f);
  }

  /** Runs the onDeliveryFailed hook once the failure is recorded; what it throws is logged, nothing more. */
  async #tell(failure: DeliveryFailure): Promise<void> {
    try {
      await this.#onFailed!(failure);
    } catch (err) {
      this.#deps.logger.error("onDeliveryFailed threw", { error: err, event: failure.event?.id, destination: failure.destination });
    }
  }

  /** Retries a write until it lands or the worker is stopping and has waited long enough. */
  async #retrying(write: () => Promise<void>, what: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (this.#stopping && attempt >= 5) {
          this.#deps.logger.error(`${what} failed; leases will expire and the events will be redelivered`, { error: err });
          return;
        }
        const retryMs = reconnectDelayMs(attempt, 200, 5000);
        // Loud once it keeps failing: while outcomes cannot be written, every event this worker holds is redelivered.
        const log = attempt >= 5 ? this.#deps.logger.error : this.#deps.logger.warn;
        log.call(this.#deps.logger, `${what} failed; retrying`, { error: err, attempt, retryInMs: retryMs });
        await new Promise((r) => setTimeout(r, retryMs));
      }
    }
  }
}
