// Destination controls: pause and resume shared by every worker, the circuit breaker, and the failure hook.
import { afterEach, describe, expect, it } from "vitest";
import { DispatchError, PermanentError } from "../mod.ts";
import type { DeliveryFailure } from "../src/store/complete.ts";
import type { Worker } from "../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop();
  await t?.drop();
});

describe("pause and resume: a paused destination is attempted by no worker, and nothing it misses is lost", () => {
  it("holds deliveries without attempts while paused, keeps delivering elsewhere, and delivers all after resume", async () => {
    t = await testOutbox();
    const crm: string[] = [];
    const audit: string[] = [];
    t.outbox.register("order.created", (e) => void crm.push(e.id), { name: "crm" });
    t.outbox.register("order.created", (e) => void audit.push(e.id), { name: "audit" });
    await t.outbox.pauseDestination("crm");
    await t.outbox.pauseDestination("crm"); // idempotent
    expect((await t.outbox.pausedDestinations()).map((p) => p.name)).toEqual(["crm"]);
    const w = t.outbox.worker({ retention: false });
    workers.push(w);
    await w.start();
    const events = await t.outbox.publishEvents(Array.from({ length: 20 }, (_, i) => ({ type: "order.created", source: "s", data: { i } })));
    await waitFor(() => audit.length === 20, "the other destination to get every event");
    // A second worker (another process) sees the same pause.
    const other = await t.another();
    other.register("order.created", (e) => void crm.push(e.id), { name: "crm" });
    other.register("order.created", () => {}, { name: "audit" });
    const w2 = other.worker({ retention: false });
    workers.push(w2);
    await w2.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(crm).toEqual([]);
    const held = await t.outbox.getEvent(events[0].id);
    expect(held?.status).toBe("pending");
    expect(held?.deliveries.find((d) => d.name === "crm")).toMatchObject({ status: "pending", attempts: 0 });
    expect(await t.outbox.resumeDestination("crm")).toBe(true);
    expect(await t.outbox.resumeDestination("crm")).toBe(false);
    await waitFor(() => new Set(crm).size === 20, "every held event to reach the resumed destination", 10_000);
    await waitFor(async () => (await t.outbox.stats()).published === 20, "every event published");
    expect(await t.outbox.pausedDestinations()).toEqual([]);
  });

  it("refuses a name that cannot be one", async () => {
    t = await testOutbox();
    await expect(t.outbox.pauseDestination("")).rejects.toBeInstanceOf(DispatchError);
    await expect(t.outbox.pauseDestination("a\u0000b")).rejects.toBeInstanceOf(DispatchError);
  });
});

/**
 * A fresh outbox with a destination "flaky" that refuses ("connection refused") until `up` is set, and a started
 * worker with the given circuit breaker. Retries come every 10-20 ms, so only the breaker holds attempts back.
 */
async function flakyDestination(breaker: { failures: number; cooldownMs: number }, rateLimit?: number) {
  t = await testOutbox({ retry: { maxRetries: 50, baseDelayMs: 10, maxDelayMs: 20 } });
  const flaky = { up: false, calls: 0, worker: null as Worker | null };
  t.outbox.register("ping", () => {
    flaky.calls++;
    if (!flaky.up) throw new Error("connection refused");
  }, { name: "flaky", rateLimit });
  const w = t.outbox.worker({ retention: false, circuitBreaker: { ...breaker, maxCooldownMs: breaker.cooldownMs } });
  workers.push(w);
  await w.start();
  flaky.worker = w;
  return flaky;
}

describe("circuit breaker: a dead destination rests as a whole instead of every event spending its retries", () => {
  it("stops attempting after the failures in a row, tries one trial after the cooldown, and closes on success", async () => {
    const flaky = await flakyDestination({ failures: 5, cooldownMs: 400 });
    const events = await t.outbox.publishEvents(Array.from({ length: 20 }, (_, i) => ({ type: "ping", source: "s", data: { i } })));
    await waitFor(() => flaky.calls >= 5, "the first failures");
    const opened = flaky.calls;
    // While open (400 ms), nothing is attempted; each cooldown then allows one trial.
    await new Promise((r) => setTimeout(r, 1000));
    expect(flaky.calls - opened).toBeLessThanOrEqual(4);
    // Without the breaker, 20 events x retries every 10-20 ms would have made hundreds of calls by now.
    expect(flaky.calls).toBeLessThan(40);
    flaky.up = true;
    await waitFor(async () => (await t.outbox.stats()).published === 20, "every event delivered once the destination is back", 15_000);
    const e = await t.outbox.getEvent(events[0].id);
    expect(e?.deliveries[0].status).toBe("delivered");
  });
});

describe("circuit breaker: shared by every worker", () => {
  it("a circuit one worker opened rests the destination for a worker that never failed there, until a trial succeeds", async () => {
    const flaky = await flakyDestination({ failures: 3, cooldownMs: 4000 });
    const other = await t.another();
    let otherCalls = 0;
    other.register("ping", () => {
      otherCalls++;
      if (!flaky.up) throw new Error("connection refused");
    }, { name: "flaky" });
    await t.outbox.publishEvents(Array.from({ length: 5 }, (_, i) => ({ type: "ping", source: "s", data: { i } })));
    await waitFor(() => flaky.calls >= 3, "the first worker's circuit to open");
    await waitFor(async () => {
      const [row] = await t.sql.unsafe(`select circuit_cooldown_ms from "${t.schema}".destinations where name = 'flaky' and circuit_open_until > now()`);
      return row?.circuit_cooldown_ms === 4000;
    }, "the opened circuit to be shared");
    // The first worker goes away; a second starts while the circuit is open, and more events come: it attempts none.
    await flaky.worker!.stop();
    const w = other.worker({ retention: false, circuitBreaker: { failures: 3, cooldownMs: 4000 } });
    workers.push(w);
    await w.start();
    await t.outbox.publishEvents(Array.from({ length: 10 }, (_, i) => ({ type: "ping", source: "s", data: { i: 10 + i } })));
    await new Promise((r) => setTimeout(r, 1500));
    expect(otherCalls).toBe(0);
    flaky.up = true;
    await waitFor(async () => (await t.outbox.stats()).published === 15, "every event delivered after the cooldown", 15_000);
    await waitFor(async () => {
      const [closed] = await t.sql.unsafe(`select circuit_open_until from "${t.schema}".destinations where name = 'flaky'`);
      return closed && closed.circuit_open_until === null;
    }, "the shared circuit to be closed by a successful trial");
  });
});

describe("circuit breaker: a trial that says nothing of the destination does not shut it for good", () => {
  it("lets another trial start when the trial fails for good (that event's own fault), and delivers the rest", async () => {
    t = await testOutbox({ retry: { maxRetries: 50, baseDelayMs: 10, maxDelayMs: 20 } });
    let mode: "down" | "refuse" | "up" = "down";
    let calls = 0;
    t.outbox.register("ping", () => {
      calls++;
      if (mode === "down") throw new Error("connection refused");
      if (mode === "refuse") {
        mode = "up";
        throw new PermanentError("this event is malformed");
      }
    }, { name: "flaky" });
    const w = t.outbox.worker({ retention: false, circuitBreaker: { failures: 3, cooldownMs: 200, maxCooldownMs: 200 } });
    workers.push(w);
    await w.start();
    await t.outbox.publishEvents(Array.from({ length: 10 }, (_, i) => ({ type: "ping", source: "s", data: { i } })));
    await waitFor(() => calls >= 3, "the circuit to open");
    // The next attempt is the half-open trial: it fails for good, and the destination is up from then on.
    mode = "refuse";
    await waitFor(async () => {
      const s = await t.outbox.stats();
      return s.published === 9 && s.failed === 1;
    }, "nine events delivered and the refused one failed", 10_000);
  });

  it("lets another trial start when the trial was put off for want of a rate-limit token", async () => {
    const flaky = await flakyDestination({ failures: 3, cooldownMs: 1000 }, 2);
    await t.outbox.publishEvents(Array.from({ length: 4 }, (_, i) => ({ type: "ping", source: "s", data: { i } })));
    await waitFor(() => flaky.calls >= 3, "the circuit to open");
    // While it rests, the shared bucket is emptied for about two seconds (four tokens owed at 2/s): the half-open
    // trial waits its second for a token, gets none, and is put off without an attempt.
    await t.sql.unsafe(`update "${t.schema}".destinations set tokens = -4, refilled_at = now() where name = 'flaky'`);
    flaky.up = true;
    // Without a new trial, the circuit would keep every delivery off until the first trial's time ran out (the
    // handler timeout, 30 s by default).
    await waitFor(async () => (await t.outbox.stats()).published === 4, "every event delivered once tokens are back", 10_000);
  });
});

describe("onDeliveryFailed: someone is told when a delivery fails for good", () => {
  it("calls the hook once per failed delivery, after it is recorded, and survives a hook that throws", async () => {
    t = await testOutbox();
    const told: DeliveryFailure[] = [];
    let recorded = false;
    t.outbox.register("bad", () => {
      throw new Error("nope");
    }, { name: "broken" });
    t.outbox.register("bad", () => {}, { name: "fine" });
    const w = t.outbox.worker({
      retention: false,
      onDeliveryFailed: async (f) => {
        recorded = (await t.outbox.getEvent(f.event!.id))?.status === "failed";
        told.push(f);
        throw new Error("the pager is down too");
      },
    });
    workers.push(w);
    await w.start();
    const e = await t.outbox.publishEvent({ type: "bad", source: "s", maxRetries: 0 });
    await waitFor(() => told.length === 1, "the hook to be called");
    expect(told[0]).toMatchObject({ event: { id: e.id, source: "s", type: "bad" }, destination: "broken", attempts: 1, error: "nope" });
    expect(recorded).toBe(true);
    const again = await t.outbox.publishEvent({ type: "bad", source: "s", maxRetries: 0 });
    await waitFor(() => told.length === 2, "the hook to be called again");
    expect(told[1].event?.id).toBe(again.id);
    expect(() => t.outbox.worker({ onDeliveryFailed: 1 as never })).toThrow(DispatchError);
  });
});

describe("rate limits: a destination's attempts per second are shared by every worker", () => {
  it("keeps two workers together under the limit, and delivers everything", async () => {
    t = await testOutbox();
    const at: number[] = [];
    const handler = (): void => void at.push(Date.now());
    t.outbox.register("tick", handler, { name: "limited", rateLimit: 20 });
    const other = await t.another();
    other.register("tick", handler, { name: "limited", rateLimit: 20 });
    for (const o of [t.outbox, other]) {
      const w = o.worker({ retention: false, circuitBreaker: false });
      workers.push(w);
      await w.start();
    }
    await t.outbox.publishEvents(Array.from({ length: 60 }, (_, i) => ({ type: "tick", source: "s", data: { i } })));
    await waitFor(async () => (await t.outbox.stats()).published === 60, "every event delivered", 20_000);
    // The bucket holds at most one second's worth (20), then refills at 20/s: 60 attempts take at least ~2 s.
    at.sort((a, b) => a - b);
    expect(at).toHaveLength(60);
    expect(at[59] - at[0]).toBeGreaterThanOrEqual(1500);
    // No one-second window holds more than the burst plus one second's refill.
    for (let i = 0; i < at.length; i++) {
      const inWindow = at.filter((x) => x >= at[i] && x < at[i] + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(40);
    }
  });

  it("refuses a rate that is not a positive number", async () => {
    t = await testOutbox();
    for (const rateLimit of [0, -1, Number.NaN, "5" as never]) {
      expect(() => t.outbox.register("x", () => {}, { name: `r${String(rateLimit)}`, rateLimit })).toThrow(DispatchError);
    }
  });
});
