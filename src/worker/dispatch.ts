import type { CloudEvent } from "cloudevents";
import { type Abortable, LazyAbortController } from "../abort.ts";
import type { Congestion, Tracker } from "./congestion.ts";
import type { Sql, TransactionSql } from "postgres";
import type { DeliveryContext, DeliveryReceipt, Destination } from "../destination.ts";
import { DeliveryError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { AttemptOutcome, EventStatus, NewAttempt, StoredDelivery } from "../record.ts";
import type { Registry } from "../registry.ts";
import { backoffMs, type RetryPolicy } from "../retry.ts";
import type { Schema } from "../schema.ts";
import type { ClaimedRow } from "../store/claim.ts";
import type { DeliveryFailure, Outcome } from "../store/complete.ts";
import { markDelivered } from "../store/mark-delivered.ts";
import { type Controls, RATE_WAIT_MS } from "./controls.ts";
import type { AttemptTrace, Telemetry } from "../telemetry.ts";
import { toCloudEvent } from "../stored-event.ts";
import { storable } from "../text.ts";

/** What dispatching needs from the worker: the same for every event it delivers, built once per worker. */
export interface DispatchContext {
  registry: Registry;
  retry: RetryPolicy;
  logger: Logger;
  handlerTimeoutMs: number;
  /** The database's clock in epoch milliseconds (the local clock and the skew the worker last measured). */
  now: () => number;
  /** The attempts in flight, so that a worker giving up on them can abort their signals. */
  running: Set<Abortable>;
  /** Which destinations are saturated with slow deliveries. */
  congestion: Congestion;
  /** Whether to record each attempt in the attempt history. */
  history: boolean;
  /** After this many leases ran out without an outcome, the event's due deliveries fail for good (a poison event). */
  maxLeaseExpiries: number;
  /** Paused destinations and open circuits: deliveries to them are put off without an attempt. */
  controls: Controls;
  /** For transactional handlers: the pool their transactions come from, and what marks a delivery delivered. */
  transactions: Transactions;
  /** Spans and metrics of each attempt. */
  telemetry: Telemetry;
  /** The event types this worker has warned match no destination, so that each is logged once, not per event. */
  sentNowhere: Set<string>;
}

/** How a transactional handler's attempt joins the delivered mark in one transaction. */
export interface Transactions {
  sql: Sql;
  schema: Schema;
  lease: string;
}

const MAX_ERROR_LENGTH = 2000;
/** How many distinct event types the no-destination warning remembers; beyond it, new types are not logged. */
const MAX_SENT_NOWHERE_TYPES = 1000;

/**
 * Warns, once per event type, that an event was published to no destination at all: a misspelt type, or a registration
 * missing from this worker's process, would otherwise mark events published without a word. An event that has
 * deliveries from another worker is not this case (its deliveries are reported as unrouted).
 */
function warnSentNowhere(type: string, state: Record<string, StoredDelivery>, ctx: DispatchContext): void {
  for (const _ in state) return;
  if (ctx.sentNowhere.has(type) || ctx.sentNowhere.size >= MAX_SENT_NOWHERE_TYPES) return;
  ctx.sentNowhere.add(type);
  ctx.logger.warn("no destination is registered for this event type: its events are marked published without being sent anywhere", {
    type,
  });
}

/**
 * Delivers one claimed event to every destination that still needs it and is due, side by side, and works out the
 * event's new state. Destinations that already succeeded or failed for good are not called again. `tracker` is this
 * event's deliveries in flight, which the worker watches for slow ones.
 */
export async function dispatch(row: ClaimedRow, ctx: DispatchContext, tracker: Tracker): Promise<Outcome> {
  const now = Number(row.db_now);
  // A null-prototype map: a destination named "constructor" or "__proto__" is a key like any other.
  const state: Record<string, StoredDelivery> = Object.create(null);
  // Most claimed events have never been attempted: their deliveries are `{}`, and there is nothing to read.
  if (row.deliveries != null && row.deliveries !== "{}") Object.assign(state, JSON.parse(row.deliveries));
  const destinations = ctx.registry.match(row.type);
  if (destinations.length === 0) warnSentNowhere(row.type, state, ctx);
  // A replay (outbox.replayEvents) marks the delivery it reopened: then only deliveries with state are attempted, so a
  // destination registered since the event was published is not sent it as a side effect of replaying another.
  let replaying = false;
  for (const name in state) if (state[name].replay === true && state[name].status === "pending") replaying = true;
  const due = destinations.filter((d) => {
    const s = state[d.name];
    return s ? s.status === "pending" && (s.nextAttemptAt == null || s.nextAttemptAt <= now) : !replaying;
  });
  let lastError: string | null = null;
  const history: NewAttempt[] = [];
  const failures: DeliveryFailure[] = [];
  const unrouted = unroutedDeliveries(destinations, state, ctx);
  for (const name of unrouted) {
    const prev = state[name];
    const what = prev.replay === true ? "sends it this replay" : "attempts this delivery";
    const message = `${name} is not registered for events of type ${JSON.stringify(row.type)}, so no worker ${what}.`;
    state[name] = { status: "failed", attempts: prev.attempts, lastError: message, nextAttemptAt: null, deliveredAt: null, ...(prev.budgetFrom ? { budgetFrom: prev.budgetFrom } : {}) };
    failures.push({ destination: name, attempts: prev.attempts, error: message });
    lastError = `${name}: ${message}`;
  }
  // Times a worker holding this event stopped without an outcome: the lapse that brought it here, plus the attempts
  // made alone since (each counted before it started).
  const stops = row.lease_lapsed === true ? Number(row.lease_expiries ?? 0) + 1 : 0;
  if (due.length && stops >= ctx.maxLeaseExpiries) {
    // Whatever it is about this event, every worker that held it stopped before writing an outcome: attempting it
    // again would take down the next one. Which destination did it is unknown, so every due one fails.
    const message = `The worker holding this event stopped ${stops} times without an outcome (a crash, an exit, or a stall past its lease); it was not attempted again. Retry it by hand once the cause is fixed.`;
    for (const d of due) {
      const prev = state[d.name];
      failures.push({ destination: d.name, attempts: prev?.attempts ?? 0, error: message });
      state[d.name] = { status: "failed", attempts: prev?.attempts ?? 0, lastError: message, nextAttemptAt: null, deliveredAt: null, ...(prev?.budgetFrom ? { budgetFrom: prev.budgetFrom } : {}) };
    }
    lastError = `${due.map((d) => d.name).join(", ")}: ${message}`;
    ctx.logger.error("poison event: failed for good after its workers stopped without an outcome", { event: row.id, stops, destinations: due.map((d) => d.name) });
  } else if (due.length) {
    const event = toCloudEvent(row);
    const maxRetries = row.max_retries == null ? ctx.retry.maxRetries : Number(row.max_retries);
    const deliverTo = async (d: Destination): Promise<void> => {
      const prev = state[d.name];
      // Put off, not attempted: a slow destination holds enough slots already, or it is paused, or its circuit is open.
      let holdMs = ctx.congestion.saturated(d.name) ? deferMs(ctx) : ctx.controls.holdMs(d.name, Date.now());
      if (holdMs === 0 && d.rateLimit !== undefined && !(await ctx.controls.token(d.name))) {
        holdMs = RATE_WAIT_MS;
        ctx.controls.untried(d.name);
      }
      if (holdMs > 0) {
        state[d.name] = { ...(prev ?? { attempts: 0, lastError: null, deliveredAt: null }), status: "pending", nextAttemptAt: ctx.now() + holdMs };
        return;
      }
      const attempts = (prev?.attempts ?? 0) + 1;
      // Attempts since the budget last started: a retry by hand starts a fresh one without forgetting the count.
      const budgetFrom = prev?.budgetFrom ?? 0;
      tracker.running.add(d.name);
      const trace = ctx.telemetry.attempt(event, d.name, attempts);
      const startedAt = ctx.now();
      try {
        // A transactional handler commits this very state with its own writes; the outcome writes it again.
        let committed: StoredDelivery | null = null;
        const mark = d.transactional
          ? async (tx: TransactionSql): Promise<void> => {
            committed = delivered(attempts, budgetFrom, ctx);
            if (!(await markDelivered(tx, ctx.transactions.schema, String(row.seq), ctx.transactions.lease, d.name, committed))) {
              throw new DeliveryError("This worker no longer holds the event (its lease ran out); the handler's writes were rolled back.");
            }
          }
          : null;
        const receipt = await attempt(d, event, attempts, row.ordering_key, ctx, mark, trace);
        ctx.controls.succeeded(d.name);
        state[d.name] = committed ?? delivered(attempts, budgetFrom, ctx);
        if (ctx.history) history.push(tried(d.name, attempts, startedAt, ctx, "delivered", statusOf(receipt), null));
        ctx.telemetry.attempted(trace, d.name, event.type, "delivered", startedAt, ctx.now(), createdMs(row), null, null);
      } catch (err) {
        const { message, permanent, retryAfterMs, status } = failureOf(err);
        if (permanent) ctx.controls.untried(d.name);
        else ctx.controls.failed(d.name, Date.now());
        lastError = `${d.name}: ${message}`;
        const used = attempts - budgetFrom;
        const kept = budgetFrom ? { budgetFrom } : {};
        state[d.name] = permanent || used > maxRetries
          ? { status: "failed", attempts, lastError: message, nextAttemptAt: null, deliveredAt: null, ...kept }
          : { status: "pending", attempts, lastError: message, nextAttemptAt: ctx.now() + backoffMs(used, ctx.retry, retryAfterMs), deliveredAt: null, ...kept, ...(prev?.replay ? { replay: true as const } : {}) };
        const failed = state[d.name].status === "failed";
        if (failed) failures.push({ destination: d.name, attempts, error: message });
        if (ctx.history) history.push(tried(d.name, attempts, startedAt, ctx, failed ? "failed" : "retry", status, message));
        ctx.telemetry.attempted(trace, d.name, event.type, failed ? "failed" : "retry", startedAt, ctx.now(), null, message, status);
        const fields = { event: row.id, destination: d.name, attempts, permanent, error: message };
        if (failed) ctx.logger.warn("delivery failed for good", fields);
        else ctx.logger.debug("delivery failed; will retry", fields);
      } finally {
        ctx.congestion.ended(tracker, d.name);
      }
    };
    if (due.length === 1) await deliverTo(due[0]);
    else await Promise.all(due.map(deliverTo));
  }
  const result = outcome(row, destinations, state, lastError, history, unrouted.length > 0);
  if (failures.length) {
    result.failures = failures.map((f) => ({ ...f, event: { id: row.id, source: row.source, type: row.type } }));
  }
  return result;
}

/**
 * A replay reopens one destination's delivery whatever the event's type (a process that registers no destinations,
 * such as the router or dashboard alone, cannot tell which types it routes), and a retry by hand reopens a failed
 * one, such as a replayed delivery that failed for want of a route. The names of the pending deliveries that wait for
 * a destination registered here, but not for this type: nothing would ever attempt them, and the event would read
 * published with them pending.
 */
function unroutedDeliveries(destinations: Destination[], state: Record<string, StoredDelivery>, ctx: DispatchContext): string[] {
  let names: string[] | null = null;
  for (const name in state) {
    if (state[name].status !== "pending" || destinations.some((d) => d.name === name)) continue;
    (names ??= []).push(name);
  }
  if (names === null) return [];
  const registered = new Set(ctx.registry.routes().map((r) => r.name));
  return names.filter((name) => registered.has(name));
}

/**
 * An event's status follows from its deliveries: failed if any failed (`unrouted`: a pending one failed for want of
 * a route), pending while any has work left, else published.
 */
function outcome(row: ClaimedRow, destinations: Destination[], state: Record<string, StoredDelivery>, lastError: string | null, history: NewAttempt[], unrouted: boolean): Outcome {
  let failed = unrouted;
  let next: number | null = null;
  for (const d of destinations) {
    const s = state[d.name];
    if (!s) continue;
    if (s.status === "failed") failed = true;
    else if (s.status === "pending") next = Math.min(next ?? Infinity, s.nextAttemptAt ?? 0);
  }
  const status: EventStatus = failed ? "failed" : next !== null ? "pending" : "published";
  return {
    seq: String(row.seq),
    status,
    deliveries: state,
    next_attempt_at: next === null ? null : new Date(next).toISOString(),
    last_error: lastError,
    attempts: history,
  };
}

/** A delivered delivery's state; `budgetFrom` is kept when a retry by hand set it. */
function delivered(attempts: number, budgetFrom: number, ctx: DispatchContext): StoredDelivery {
  const s: StoredDelivery = { status: "delivered", attempts, lastError: null, nextAttemptAt: null, deliveredAt: ctx.now() };
  if (budgetFrom) s.budgetFrom = budgetFrom;
  return s;
}

function tried(destination: string, attempt: number, startedAt: number, ctx: DispatchContext, outcome: AttemptOutcome, status: number | null, error: string | null): NewAttempt {
  return { destination, attempt, startedAt, durationMs: Math.max(0, ctx.now() - startedAt), outcome, status, error };
}

/** A status code a destination reported, if it is one. */
function statusOf(receipt: unknown): number | null {
  try {
    const status = (receipt as DeliveryReceipt | null | undefined)?.status;
    return Number.isInteger(status) && (status as number) >= 0 && (status as number) < 2 ** 31 ? (status as number) : null;
  } catch {
    return null;
  }
}

/**
 * One delivery under the worker's timeout: one promise that settles once, whichever comes first. With `mark` (a
 * transactional handler) the handler runs inside a transaction that `mark` completes; a handler still running when
 * the attempt times out has its transaction rolled back.
 */
function attempt(
  d: Destination,
  event: CloudEvent<unknown>,
  attempt: number,
  orderingKey: string | null,
  ctx: DispatchContext,
  mark: ((tx: TransactionSql) => Promise<void>) | null,
  trace: AttemptTrace | null,
): Promise<void | DeliveryReceipt> {
  const controller = new LazyAbortController();
  ctx.running.add(controller);
  return new Promise<void | DeliveryReceipt>((resolve, reject) => {
    // Once a transactional handler's delivered mark is being written, its transaction's fate is the attempt's.
    let committing = false;
    const timer = setTimeout(() => {
      if (committing) return;
      const err = new DeliveryError(`Timed out after ${ctx.handlerTimeoutMs} ms`);
      controller.abort(err);
      done();
      reject(err);
    }, ctx.handlerTimeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      ctx.running.delete(controller);
    };
    let delivery: Promise<void | DeliveryReceipt>;
    try {
      delivery = ctx.telemetry.within(trace, () => mark
        ? ctx.transactions.sql.begin(async (tx) => {
          const receipt = await d.deliver(event, deliveryContext(controller, d, attempt, orderingKey, ctx.logger, trace, tx));
          if (controller.signal.aborted) throw controller.signal.reason;
          committing = true;
          await mark(tx);
          return receipt;
        }) as Promise<void | DeliveryReceipt>
        : d.deliver(event, deliveryContext(controller, d, attempt, orderingKey, ctx.logger, trace)));
    } catch (err) {
      delivery = Promise.reject(err);
    }
    Promise.resolve(delivery).then((receipt) => {
      done();
      resolve(receipt);
    }, (err: unknown) => {
      done();
      reject(err ?? new Error("The destination failed without a reason."));
    });
  });
}

/** What a destination is handed with the event; `tx` only for a transactional handler. */
function deliveryContext(
  controller: LazyAbortController,
  d: Destination,
  attempt: number,
  orderingKey: string | null,
  logger: Logger,
  trace: AttemptTrace | null,
  tx?: TransactionSql,
): DeliveryContext {
  const context: DeliveryContext = {
    get signal() {
      return controller.signal;
    },
    attempt,
    destination: d.name,
    logger,
    orderingKey: orderingKey ?? undefined,
    get traceparent() {
      return trace?.traceparent;
    },
    get tracestate() {
      return trace?.tracestate;
    },
  };
  if (tx) context.tx = tx;
  return context;
}

/** Until a saturated destination is likely to have room again: about one timeout, with jitter. */
function deferMs(ctx: DispatchContext): number {
  const base = Math.min(ctx.handlerTimeoutMs, 5000);
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/** When the event was committed (epoch ms, database clock), for the commit-to-delivered latency. */
function createdMs(row: ClaimedRow): number | null {
  return row.created_ms == null ? null : Number(row.created_ms);
}

/** How a failed attempt is recorded and retried. */
export interface Failure {
  /** The delivery's `lastError`: well-formed, NUL-free, at most 2000 characters. */
  message: string;
  permanent: boolean;
  retryAfterMs: number | undefined;
  /** The destination's status code, when the error carries one (a webhook's HTTP status). */
  status: number | null;
}

/**
 * Reads whatever a destination threw. Total: a thrown value whose `toString`, `message` getter or prototype throws
 * (an `Object.create(null)`, a revoked Proxy) still yields a failure, so one bad value fails one delivery only.
 */
export function failureOf(err: unknown): Failure {
  let permanent = false;
  let retryAfterMs: number | undefined;
  let status: number | null = null;
  try {
    if (err instanceof DeliveryError) {
      permanent = err.permanent === true;
      const after = err.retryAfterMs;
      retryAfterMs = typeof after === "number" && Number.isFinite(after) ? after : undefined;
      status = statusOf(err);
    }
  } catch {
    // A value that cannot even be inspected is an ordinary, retryable failure.
  }
  return { message: storable(describe(err), MAX_ERROR_LENGTH), permanent, retryAfterMs, status };
}

function describe(err: unknown): string {
  try {
    if (typeof err === "string") return err || "The destination failed with an empty message.";
    if (err instanceof Error) {
      const message: unknown = err.message;
      if (typeof message === "string" && message) return message;
      const name: unknown = err.name;
      return typeof name === "string" && name ? name : "Error";
    }
    const text = String(err);
    return typeof text === "string" && text ? text : "The destination failed without a reason.";
  } catch {
    return "The destination failed with a value that cannot be printed.";
  }
}
