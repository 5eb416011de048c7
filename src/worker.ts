import type { Sql } from "postgres";
import { type Abortable, withDeadline } from "./abort.ts";
import type { Query } from "./client.ts";
import { Congestion, SLOW_MS, type Tracker } from "./worker/congestion.ts";
import { dispatch, type DispatchContext } from "./worker/dispatch.ts";
import { DispatchError } from "./errors.ts";
import { preflight } from "./preflight.ts";
import type { Logger } from "./logger.ts";
import type { Registry } from "./registry.ts";
import { reconnectDelayMs, type RetryPolicy } from "./retry.ts";
import type { Schema } from "./schema.ts";
import { claim, type ClaimedRow } from "./store/claim.ts";
import { ClockSkew } from "./worker/clock.ts";
import { type Outcome, release } from "./store/complete.ts";
import { countLapsed } from "./store/lapsed.ts";
import { Controls } from "./worker/controls.ts";
import { OutcomeWriter } from "./worker/outcome-writer.ts";
import { retrying } from "./worker/retrying.ts";
import { Slots } from "./worker/slots.ts";
import { repair } from "./store/repair.ts";
import { startWaker, type WakeMode, type WakeReason, type Waker } from "./worker/wake.ts";
import { Retention } from "./retention.ts";
import type { Telemetry } from "./telemetry.ts";
import { type WorkerOptions, workerSettings } from "./worker/settings.ts";

export type { WorkerOptions } from "./worker/settings.ts";

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
  readonly #maxLeaseExpiries: number;
  readonly #controls: Controls;
  readonly #pollMs: number;
  /** This worker's lease token: every event it holds carries it. */
  readonly #lease = crypto.randomUUID();
  /** What every delivery needs from this worker (see worker/dispatch.ts). */
  readonly #dispatch: DispatchContext;
  /** Attempts in flight; aborted when stop() gives up on them. */
  readonly #attempts = new Set<Abortable>();
  readonly #slots: Slots;
  readonly #writer: OutcomeWriter;
  /** The chain of events whose last lease lapsed, attempted one at a time. */
  #lapsedTurn: Promise<void> = Promise.resolve();
  #slowCheck: ReturnType<typeof setInterval> | null = null;
  #stopGauges: (() => void) | null = null;
  #abandoned = false;

  #waker: Waker | null = null;
  #running = false;
  #stopping = false;
  #loop: Promise<void> | null = null;
  #woken = false;
  #wakeUp: (() => void) | null = null;
  /** Events claimed ahead of free slots (see #run), and when; they hold this worker's lease but no slot yet. */
  #ahead: ClaimedRow[] = [];
  #aheadAt = 0;
  /** The last claim filled its limit: more events are probably due. */
  #full = false;
  /** How long a batch claimed ahead may wait for slots: its lease must still cover a whole attempt after that. */
  readonly #aheadMs: number;
  /** The database clock's offset from the local one, measured at each claim. */
  readonly #skew = new ClockSkew();
  /** When the next repair of parked events is due (see store/repair.ts): at start, on reconnect, every sweep. */
  #repairAt = 0;
  /**
   * Ordering keys this worker finished an event of, and when. A publisher whose transaction was open at that moment
   * may have parked an event the finish could not see; the loop looks at these keys again for RECHECK_MS.
   */
  readonly #freed = new Map<string, number>();

  constructor(deps: WorkerDeps, options: WorkerOptions = {}) {
    const o = workerSettings(options);
    this.#deps = o.logger ? { ...deps, logger: o.logger } : deps;
    this.#concurrency = o.concurrency;
    this.#batchSize = o.batchSize;
    this.#handlerTimeoutMs = o.handlerTimeoutMs;
    this.#leaseMs = o.leaseMs;
    this.#sweepMs = o.sweepIntervalMs;
    this.#stopTimeoutMs = o.stopTimeoutMs;
    this.#aheadMs = this.#leaseMs - this.#handlerTimeoutMs - 1000;
    this.#maxLeaseExpiries = o.maxLeaseExpiries;
    this.#controls = new Controls(this.#deps, o.circuitBreaker);
    this.#pollMs = o.pollIntervalMs;
    this.#retention = o.retention === false ? null : new Retention(this.#deps, o.retention);
    const congestion = new Congestion(Math.max(1, Math.floor(this.#concurrency / 2)));
    this.#slots = new Slots(this.#concurrency, congestion);
    const { sql, query, schema, registry, retry, logger, telemetry } = this.#deps;
    this.#dispatch = {
      registry,
      retry,
      logger,
      handlerTimeoutMs: this.#handlerTimeoutMs,
      now: () => Date.now() + this.#skew.ms,
      running: this.#attempts,
      congestion,
      history: o.history,
      maxLeaseExpiries: this.#maxLeaseExpiries,
      controls: this.#controls,
      transactions: { sql, schema, lease: this.#lease },
      telemetry,
      sentNowhere: new Set(),
    };
    this.#writer = new OutcomeWriter({
      query,
      schema,
      logger,
      lease: this.#lease,
      onFailed: o.onDeliveryFailed,
      stopping: () => this.#stopping,
      wake: () => this.#wake(),
      deadlineMs: this.#leaseMs,
    });
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
    this.#slowCheck = setInterval(() => this.#slots.detachSlow(), SLOW_MS / 4);
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
    this.#slots.interrupt();
    await this.#loop;
    if (this.#ahead.length) {
      // Claimed ahead and never started: handed back at once for another worker, not waited for.
      await this.#release(this.#ahead.splice(0).map((row) => String(row.seq)));
    }
    await this.#slots.drained(this.#stopTimeoutMs);
    if (this.#slowCheck) clearInterval(this.#slowCheck);
    this.#controls.stop();
    const abandoned = this.#slots.seqs();
    if (abandoned.length) {
      this.#abandoned = true;
      const reason = new DispatchError("worker_stopped", "The worker stopped before this delivery finished.");
      for (const attempt of this.#attempts) attempt.abort(reason);
      await this.#release(abandoned);
      this.#deps.logger.warn("released unfinished events", { count: abandoned.length });
    }
    await this.#writer.drained();
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
      const free = this.#slots.free;
      if (free > 0 && this.#ahead.length) {
        await this.#startAhead(free);
        continue;
      }
      // Every slot taken after a full claim: more is likely waiting, so the next batch is claimed now and started as
      // slots free, and the database's work on it overlaps this process's on the batch in flight.
      const eventMs = this.#slots.eventMs;
      const ahead = free <= 0 && this.#full && this.#ahead.length === 0 && this.#aheadMs > 0 && eventMs >= 0 &&
        eventMs < AHEAD_EVENT_MS;
      if (free <= 0 && !ahead) {
        await this.#slots.slotFreed();
        continue;
      }
      this.#woken = false;
      const limit = ahead ? this.#batchSize : Math.min(free, this.#batchSize);
      let rows: ClaimedRow[];
      let waitMs: number | null;
      try {
        // Every query of this loop is bounded: one the driver never settles (a connection cut by a server restart)
        // must not stop it.
        if (Date.now() >= this.#repairAt) {
          await withDeadline(repair(query, schema), this.#leaseMs, "releasing parked events");
          this.#repairAt = Date.now() + this.#sweepMs;
        }
        const claimed = await withDeadline(claim(query, schema, limit, this.#lease, this.#leaseMs), this.#leaseMs, "claiming");
        rows = claimed.rows;
        waitMs = claimed.nextDueMs;
        if (rows.length) {
          // The clock skew first: it must be read as the claim's answer arrives, before any other round trip.
          this.#skew.sample(Number(rows[0].db_now), Date.now());
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
      await this.#release(this.#ahead.splice(0).map((row) => String(row.seq)));
      return;
    }
    const rows = this.#ahead.length <= free ? this.#ahead : this.#ahead.splice(0, free);
    if (rows === this.#ahead) this.#ahead = [];
    for (const row of rows) this.#start(row);
  }

  /** Hands events back (due now, lease cleared) for another worker. */
  async #release(seqs: string[]): Promise<void> {
    await this.#retrying(() => release(this.#deps.query, this.#deps.schema, seqs, this.#lease), "release");
  }

  /** Releases events parked behind recently finished keys that no finish released; see {@link Worker.#freed}. */
  async #recheckFreed(): Promise<number> {
    const since = Date.now() - RECHECK_MS;
    for (const [key, at] of this.#freed) if (at < since) this.#freed.delete(key);
    if (!this.#freed.size) return 0;
    const released = repair(this.#deps.query, this.#deps.schema, [...this.#freed.keys()]);
    return await withDeadline(released, this.#leaseMs, "releasing parked events");
  }

  #start(row: ClaimedRow): void {
    const seq = String(row.seq);
    const tracker = this.#slots.take(seq);
    if (!tracker) return;
    if (row.lease_lapsed === true) {
      this.#alone(row, tracker);
      return;
    }
    dispatch(row, this.#dispatch, tracker).then(
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
  #alone(row: ClaimedRow, tracker: Tracker): void {
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
        outcome = await dispatch(row, this.#dispatch, tracker);
        if (!this.#abandoned) await this.#writer.write([outcome]);
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
    if (outcome && !this.#abandoned) this.#writer.push(outcome, wake);
    this.#slots.finish(seq);
  }

  /** Retries a write until it lands or the worker is stopping and has waited long enough. */
  async #retrying(write: () => Promise<void>, what: string): Promise<void> {
    await retrying(write, what, this.#deps.logger, () => this.#stopping, this.#leaseMs);
  }
}
