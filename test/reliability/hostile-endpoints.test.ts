// Scenario 4, hostile endpoints: real HTTP endpoints that time out, reset connections, answer 500 in bursts,
// answer 429 with Retry-After, answer 410, or answer slowly, next to a healthy one. Every delivery's status and
// lastError must match what its endpoint did, and the healthy endpoint must keep being served.
import { afterEach, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { audit, drained, statusCounts, summary } from "./support/check.ts";
import { produce } from "./support/produce.ts";
import { type Behaviour, healthy, Receiver } from "./support/receiver.ts";

const EVENTS = 500;
const MAX_RETRIES = 2;

/** 500 in bursts: requests 1-40 fail, 41-80 pass, and so on; an event is never refused more than twice. */
function bursty(): Behaviour {
  const refused = new Map<string, number>();
  return ({ n, arrival, answer }) => {
    const times = refused.get(arrival.id) ?? 0;
    if (Math.floor((n - 1) / 40) % 2 === 0 && times < MAX_RETRIES) {
      refused.set(arrival.id, times + 1);
      answer(500, {}, "burst");
    } else answer(204);
  };
}

/** 429 with Retry-After: 1 on an event's first request, then accepted. */
function limited(): Behaviour {
  const seen = new Set<string>();
  return ({ arrival, answer }) => {
    if (seen.has(arrival.id)) return answer(204);
    seen.add(arrival.id);
    answer(429, { "retry-after": "1" }, "slow down");
  };
}

const slow: Behaviour = ({ answer }) => setTimeout(() => answer(204), 100);
const reset: Behaviour = ({ req }) => req.socket.destroy();
const gone: Behaviour = ({ answer }) => answer(410, {}, "gone for good");
/** Never answers; the webhook's own timeout ends each attempt. */
const silent: Behaviour = () => {};

describe("guarantee 3 and 6: hostile endpoints fail only their own deliveries, with the truth in status and lastError", () => {
  let t: TestOutbox;
  let receiver: Receiver;
  let worker: Worker;

  afterEach(async () => {
    await worker?.stop();
    await receiver?.close();
    await t?.drop();
  });

  it("records delivered, retried and failed deliveries as they happened", async () => {
    t = await testOutbox({ retry: { maxRetries: MAX_RETRIES, baseDelayMs: 50, maxDelayMs: 5000 } });
    receiver = await Receiver.start({ healthy, slow, bursty: bursty(), limited: limited(), gone, reset, silent });
    // Only the silent endpoint gets a short timeout: on a loaded 2-core machine a 300 ms budget is too tight for
    // endpoints that do answer, and a timeout there would be the test's fault, not the endpoint's.
    for (const d of receiver.destinations(receiver.names.filter((n) => n !== "silent"), 5000)) t.outbox.register("*", d);
    for (const d of receiver.destinations(["silent"], 300)) t.outbox.register("*", d);
    // Per-delivery retry semantics are under test here: no circuit breaker resting a failing endpoint as a whole.
    worker = t.outbox.worker({ concurrency: 32, handlerTimeoutMs: 6000, leaseMs: 12_000, retention: false, circuitBreaker: false });
    await worker.start();
    const started = Date.now();
    const production = produce(t.outbox, { total: EVENTS, transaction: false, perTx: 20 });
    await production.done;
    await waitFor(() => drained(t.sql, t.schema), "every event to be finished", 90_000);
    const elapsedMs = Date.now() - started;

    const rows = await t.sql.unsafe(`select seq, id, status, deliveries::text as d from "${t.schema}".events`);
    // A delivered destination shows no lastError; what went wrong before is in the attempt history.
    const lastFailure = new Map<string, string>();
    for (const a of await t.sql.unsafe(`select event_seq, destination, error from "${t.schema}".attempts where error is not null order by started_at`)) {
      lastFailure.set(`${a.event_seq}:${a.destination}`, a.error as string);
    }
    const wrong: string[] = [];
    // On a loaded 2-core machine, where this process is both the worker and every endpoint, an attempt at an
    // answering endpoint can still time out; the record must then say so, and a later attempt must have succeeded.
    let timeouts = 0;
    const timedOut = (d: { lastError: string | null }): boolean => /^No response from .* within 5000 ms$/.test(d.lastError ?? "");
    let seq = "";
    const check = (id: string, name: string, stored: { status: string; attempts: number; lastError: string | null }, want: string, attempts: number, error: RegExp | null): void => {
      const shown = stored.status === "delivered" ? stored.lastError === null : true;
      const d = { ...stored, lastError: stored.status === "delivered" ? lastFailure.get(`${seq}:${name}`) ?? null : stored.lastError };
      const extra = d.attempts - attempts;
      if (extra > 0 && timedOut(d)) timeouts += extra;
      const ok = shown && d.status === want && (extra === 0 ? (error ? error.test(d.lastError ?? "") : d.lastError === null) : extra > 0 && timedOut(d));
      if (!ok && wrong.length < 10) wrong.push(`${id} ${name}: want ${want} after ${attempts} attempts, ${error ?? "no error"}: ${JSON.stringify(stored)}, last failure ${d.lastError}`);
    };
    for (const row of rows) {
      seq = String(row.seq);
      const s = JSON.parse(row.d as string);
      const id = row.id as string;
      check(id, "healthy", s.healthy, "delivered", 1, null);
      check(id, "slow", s.slow, "delivered", 1, null);
      const burst = s.bursty.attempts > 1 && !timedOut(s.bursty);
      check(id, "bursty", s.bursty, "delivered", burst ? s.bursty.attempts : 1, burst ? /^HTTP 500 from .*: burst$/ : null);
      check(id, "limited", s.limited, "delivered", 2, /^HTTP 429 from .*: slow down$/);
      check(id, "gone", s.gone, "failed", 1, /^HTTP 410 from .*: gone for good$/);
      check(id, "reset", s.reset, "failed", MAX_RETRIES + 1, /^Could not reach /);
      check(id, "silent", s.silent, "failed", MAX_RETRIES + 1, /^No response from .* within 300 ms$/);
      if (row.status !== "failed" && wrong.length < 10) wrong.push(`${id}: status ${row.status}`);
    }
    expect(wrong).toEqual([]);
    expect(await statusCounts(t.sql, t.schema)).toEqual({ failed: EVENTS });

    // Retry-After: 1 was honoured: the second request came at least a second after the first.
    const limitedGaps = [...receiver.accepted("limited").keys()].map((id) => {
      const [first, second] = receiver.arrivals.filter((a) => a.dest === "limited" && a.id === id);
      return second.start - first.start;
    });
    expect(Math.min(...limitedGaps)).toBeGreaterThanOrEqual(950);
    // The endpoints that answered saw exactly what the database says.
    expect(receiver.count("gone")).toBeLessThanOrEqual(EVENTS + timeouts);
    expect(receiver.count("reset")).toBe(EVENTS * (MAX_RETRIES + 1));
    // A request the webhook gave up on while it was still being sent may never reach the endpoint.
    expect(receiver.count("silent")).toBeLessThanOrEqual(EVENTS * (MAX_RETRIES + 1));
    expect(receiver.count("silent")).toBeGreaterThan(EVENTS * MAX_RETRIES);

    const ok = ["healthy", "slow", "bursty", "limited"];
    const result = await audit(t.sql, t.schema, receiver, ok, production.committed);
    expect(result.lost).toBe(0);
    expect(result.afterDelivered).toBe(0);
    summary("hostile-endpoints", {
      load: `${EVENTS}ev,7webhooks`,
      faults: "timeout,reset,500-bursts,429+Retry-After,410,slow-100ms",
      published: result.published,
      deliveredToAnsweringEndpoints: result.published - result.lost,
      duplicates: result.duplicates,
      timeoutsAtAnsweringEndpoints: timeouts,
      lost: 0,
      drainMs: elapsedMs,
    });
  }, 120_000);

  // An event holds a worker slot until its slowest delivery ends: without the congestion control
  // (src/worker/congestion.ts) a destination that hangs up to its timeout would take every slot and the healthy
  // destination would wait behind it.
  it("keeps serving a healthy endpoint while another one hangs", async () => {
    t = await testOutbox();
    const held: (() => void)[] = [];
    receiver = await Receiver.start({ healthy, hang: ({ answer }) => held.push(() => answer(204)) });
    for (const d of receiver.destinations(receiver.names, 20_000)) t.outbox.register("*", d);
    worker = t.outbox.worker({ concurrency: 32, handlerTimeoutMs: 25_000, leaseMs: 60_000, retention: false });
    await worker.start();
    const total = 300;
    await produce(t.outbox, { total, transaction: false, perTx: 50 }).done;
    try {
      await waitFor(() => receiver.acceptedCount("healthy") === total, "the healthy endpoint to get every event", 6000);
    } finally {
      summary("hostile-endpoints/hang", { published: total, healthyServedWhileOtherHangs: receiver.acceptedCount("healthy") });
      for (const release of held.splice(0)) release();
    }
  }, 60_000);
});
