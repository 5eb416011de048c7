import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Sql } from "postgres";
import { type DeliveredEvent, Outbox, type Worker } from "../mod.ts";
import { connect, testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
const workers: Worker[] = [];
beforeEach(async () => {
  t = await testOutbox();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await t.drop();
});

function start(worker: Worker): Promise<Worker> {
  workers.push(worker);
  return worker.start().then(() => worker);
}

/** The test's sql client, counting the claim statements that go through it (and telling `onClaim` of each). */
function countingClaims(sql: Sql, onClaim: () => void = () => {}): { sql: Sql; claims: () => number } {
  let claims = 0;
  const proxy = new Proxy(sql, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key !== "unsafe") return value;
      return (text: string, ...rest: unknown[]) => {
        if (text.includes("for update skip locked")) {
          claims++;
          onClaim();
        }
        return (value as (...a: unknown[]) => unknown).call(target, text, ...rest);
      };
    },
  });
  return { sql: proxy, claims: () => claims };
}

describe("instant: a commit wakes the worker, with no polling", () => {
  it("delivers a committed event at once although the safety sweep is minutes away", async () => {
    const counter = countingClaims(t.sql);
    const outbox = new Outbox({ sql: counter.sql, schema: t.schema, logger: t.outbox.logger });
    const seen: DeliveredEvent[] = [];
    outbox.register("user.created", (event) => void seen.push(event));
    await start(outbox.worker({ sweepIntervalMs: 600_000 }));
    await waitFor(() => counter.claims() >= 1, "the startup sweep");
    const idleClaims = counter.claims();
    const e = await t.outbox.publishEvent({ type: "user.created", source: "users", data: { user_id: 123 } });
    await waitFor(() => seen.length === 1, "the handler to run", 5000);
    expect(seen[0].id).toBe(e.id);
    expect(seen[0].data).toEqual({ user_id: 123 });
    // One claim for the notification, nothing else: no polling while idle.
    expect(counter.claims() - idleClaims).toBeLessThanOrEqual(2);
  });
});

describe("never lost: a notification missed while the listener was down is recovered on reconnect", () => {
  it("sweeps on reconnect after its LISTEN connection is terminated", async () => {
    // The worker logs in as its own role, so the test can hold its reconnection off while an event commits.
    const role = `${t.schema}_worker`;
    await t.sql.unsafe(`create role "${role}" login superuser password 'worker'`);
    const workerSql = connect({ user: role, password: "worker", max: 2 });
    try {
      const seen: string[] = [];
      const outbox = new Outbox({ sql: workerSql, schema: t.schema, logger: t.outbox.logger });
      outbox.register("missed.event", (e) => void seen.push(e.id));
      const worker = await start(outbox.worker({ sweepIntervalMs: 600_000 }));
      await waitFor(async () => (await listenerPids(role)).length === 1, "the listener to connect");
      // And the startup sweep is over (its last statement is the claim, which also says when the next event is due):
      // the worker sleeps.
      await waitFor(async () => (await t.sql.unsafe(
        `select 1 from pg_stat_activity where usename = $1 and state = 'idle' and query like '%synchronous_commit%'`,
        [role],
      )).length > 0, "the worker to go idle");

      await t.sql.unsafe(`alter role "${role}" nologin`);
      await t.sql.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where usename = $1 and query ilike 'listen%'`, [role]);
      await waitFor(async () => (await listenerPids(role)).length === 0, "the listener to be gone");
      // Nobody is listening, so the event's notification is lost. (Published without one: PostgreSQL may hand a
      // brand-new listener notifications that are still in its queue, which would make this test pass by luck.)
      const e = await t.outbox.publishEvent({ type: "missed.event", source: "test" }, { notify: false });
      await t.sql.unsafe(`alter role "${role}" login`);

      await waitFor(() => seen.includes(e.id), "the reconnect sweep to deliver the missed event", 10_000);
      await worker.stop();
    } finally {
      await workerSql.end({ timeout: 1 });
      await t.sql.unsafe(`drop role if exists "${role}"`);
    }
  });

  async function listenerPids(role: string): Promise<number[]> {
    const rows = await t.sql.unsafe(`select pid from pg_stat_activity where usename = $1 and query ilike 'listen%'`, [role]);
    return rows.map((r) => r.pid as number);
  }
});

describe("scheduling: nothing is delivered before its scheduledAt", () => {
  it("does not sleep past an event that falls due while the claim's answer is on its way", async () => {
    // Hold each claim's answer (which says when the next event is due) back for a second, so the scheduled event
    // falls due before the worker reads how long to sleep.
    const proxy = new Proxy(t.sql, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (key !== "unsafe") return value;
        return (text: string, ...rest: unknown[]) => {
          const answer = (value as (...a: unknown[]) => Promise<unknown>).call(target, text, ...rest);
          return text.includes("min(e.next_attempt_at)") ? answer.then((rows) => new Promise((r) => setTimeout(() => r(rows), 1000))) : answer;
        };
      },
    });
    const outbox = new Outbox({ sql: proxy as Sql, schema: t.schema, logger: t.outbox.logger });
    const seen: string[] = [];
    outbox.register("tick", (e) => void seen.push(e.id));
    await start(outbox.worker({ sweepIntervalMs: 600_000 }));
    await new Promise((r) => setTimeout(r, 1200)); // past the startup sweep's slow claim
    const e = await t.outbox.publishEvent({ type: "tick", source: "test", scheduledAt: new Date(Date.now() + 300) });
    await waitFor(() => seen.includes(e.id), "the event that fell due while the worker looked", 8000);
  });

  it("sleeps until the scheduled time, then delivers", async () => {
    const seen: Array<{ id: string; at: number }> = [];
    t.outbox.register("reminder.send", (e) => void seen.push({ id: e.id, at: Date.now() }));
    await start(t.outbox.worker({ sweepIntervalMs: 600_000 }));
    const scheduledAt = new Date(Date.now() + 1500);
    const later = await t.outbox.publishEvent({ type: "reminder.send", source: "reminders", scheduledAt });
    const now = await t.outbox.publishEvent({ type: "reminder.send", source: "reminders" });
    await waitFor(() => seen.length === 2, "both events", 10_000);
    expect(seen[0].id).toBe(now.id);
    expect(seen[1].id).toBe(later.id);
    expect(seen[1].at).toBeGreaterThanOrEqual(scheduledAt.getTime() - 5);
    const stored = await t.outbox.getEvent(later.id);
    expect(stored?.scheduledAt?.getTime()).toBe(scheduledAt.getTime());
  });
});

describe("a handler that hangs fails that delivery only: it does not stall other destinations", () => {
  it("keeps delivering to a healthy destination while another hangs until its timeout", async () => {
    const healthy = new Set<string>();
    let hanging = 0;
    t.outbox.register("order.created", async (_e, ctx) => {
      hanging++;
      await new Promise((r) => ctx.signal.addEventListener("abort", r));
    }, { name: "stuck-endpoint" });
    t.outbox.register("order.created", (e) => void healthy.add(e.id), { name: "healthy" });
    await start(t.outbox.worker({ concurrency: 4, handlerTimeoutMs: 6000, leaseMs: 20_000 }));
    const events = await t.outbox.publishEvents(Array.from({ length: 40 }, (_, i) => ({ type: "order.created", source: "shop", data: { i } })));
    // Without the congestion rule the four slots fill with events waiting on the stuck endpoint, and the healthy
    // one gets four events per 6 s timeout; with it, everything reaches the healthy one long before the first timeout.
    await waitFor(() => healthy.size === 40, "the healthy destination to get all 40 events", 5000);
    expect(hanging).toBeLessThanOrEqual(4 + 2); // the stuck one holds at most its share, plus the events that detached
    // The handler has run; its outcome is written in the next batch.
    const deferred = await waitFor(async () => {
      const e = await t.outbox.getEvent(events[39].id);
      return e?.deliveries.find((d) => d.name === "healthy")?.status === "delivered" ? e : null;
    }, "the healthy delivery of the last event to be written", 5000);
    expect(deferred.deliveries.find((d) => d.name === "stuck-endpoint")).toMatchObject({ status: expect.stringMatching(/pending|processing/), attempts: 0 });
  });
});

describe("graceful stop: no new claims; in-flight work finishes or is handed back", () => {
  it("lets in-flight deliveries finish and records them", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    t.outbox.register("slow", async (e) => {
      started.push(e.id);
      await gate;
    });
    const worker = await start(t.outbox.worker({ stopTimeoutMs: 5000 }));
    const e = await t.outbox.publishEvent({ type: "slow", source: "test" });
    await waitFor(() => started.length === 1, "the delivery to start");
    const stopping = worker.stop();
    setTimeout(release, 50);
    await stopping;
    expect((await t.outbox.getEvent(e.id))?.status).toBe("published");
    const after = await t.outbox.publishEvent({ type: "slow", source: "test" });
    await new Promise((r) => setTimeout(r, 100));
    expect(started).not.toContain(after.id);
  });

  it("hands back what does not finish in time, for another worker", async () => {
    const started: string[] = [];
    t.outbox.register("stuck", async (e, ctx) => {
      started.push(e.id);
      await new Promise((r) => ctx.signal.addEventListener("abort", r));
    }, { name: "stuck" });
    const worker = await start(t.outbox.worker({ stopTimeoutMs: 100, leaseMs: 60_000, handlerTimeoutMs: 30_000 }));
    const e = await t.outbox.publishEvent({ type: "stuck", source: "test" });
    await waitFor(() => started.length === 1, "the delivery to start");
    await worker.stop();
    const [row] = await t.sql.unsafe(`select status, lease, next_attempt_at <= now() as due from "${t.schema}".events where id = $1`, [e.id]);
    expect(row).toMatchObject({ status: "pending", lease: null, due: true });

    const other = await t.another();
    const delivered: string[] = [];
    other.register("stuck", (ev) => void delivered.push(ev.id), { name: "stuck" });
    await start(other.worker());
    await waitFor(() => delivered.includes(e.id), "another worker to deliver the handed-back event");
  });
});

describe("a batch claimed while every slot is busy (the claim overlaps the deliveries in flight)", () => {
  /** Quick deliveries first: a worker claims ahead only while its events finish about as fast as a claim. */
  async function quickFirst(seen: string[]): Promise<void> {
    await t.outbox.publishEvents(Array.from({ length: 4 }, (_, i) => ({ type: "held", source: "test", id: `w${i}` })));
    await waitFor(() => seen.length === 4, "the quick deliveries");
  }

  it("starts it as slots free, and a stop hands back what never started", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    t.outbox.register("held", async (e) => {
      started.push(e.id);
      if (e.id.startsWith("h")) await gate;
    }, { name: "held" });
    const worker = await start(t.outbox.worker({ concurrency: 2, batchSize: 2, stopTimeoutMs: 5000 }));
    await quickFirst(started);
    started.length = 0;
    const events = await t.outbox.publishEvents(Array.from({ length: 6 }, (_, i) => ({ type: "held", source: "test", id: `h${i}` })));
    await waitFor(() => started.length === 2, "two deliveries to take both slots");
    // The next batch is claimed ahead: leased to this worker, not started.
    await waitFor(async () => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where lease is not null`))[0].n === 4, "a batch claimed ahead");
    expect(started).toHaveLength(2);
    const stopping = worker.stop();
    setTimeout(release, 50);
    await stopping;
    const rows = await t.sql.unsafe(`select id, status, lease from "${t.schema}".events where id like 'h%' order by seq`);
    expect(rows.filter((r) => r.lease !== null)).toEqual([]);
    expect(rows.filter((r) => r.status === "published").map((r) => r.id).sort()).toEqual([...started].sort());
    expect(rows.filter((r) => r.status === "pending")).toHaveLength(6 - started.length);

    const other = await t.another();
    const delivered: string[] = [];
    other.register("held", (ev) => void delivered.push(ev.id), { name: "held" });
    await start(other.worker());
    await waitFor(() => delivered.length === 6 - started.length, "another worker to deliver the handed-back events");
    expect([...delivered, ...started].sort()).toEqual(events.map((e) => e.id).sort());
  });

  it("is not claimed for slow deliveries: they get a pause between claims, not a queue of their own", async () => {
    // Slow deliveries (a webhook under load) would only wait longer in a queue, and the wait counts toward the slow mark.
    let running = 0;
    let claimsWhileFull = 0;
    const counter = countingClaims(t.sql, () => {
      if (running >= 2) claimsWhileFull++;
    });
    const outbox = new Outbox({ sql: counter.sql, schema: t.schema, logger: t.outbox.logger });
    outbox.register("slow", async () => {
      running++;
      await new Promise<void>((r) => setTimeout(r, 120));
      running--;
    }, { name: "slow" });
    const worker = await start(outbox.worker({ concurrency: 2, batchSize: 2 }));
    await t.outbox.publishEvents(Array.from({ length: 10 }, (_, i) => ({ type: "slow", source: "test", id: `s${i}` })));
    await waitFor(async () => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where status = 'published'`))[0].n === 10, "every slow delivery");
    expect(counter.claims()).toBeGreaterThan(2);
    expect(claimsWhileFull).toBe(0);
    await worker.stop();
  });

  it("hands it back, due now, when it waited past what its lease can cover", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const attempts: string[] = [];
    t.outbox.register("held", async (e) => {
      attempts.push(e.id);
      if (e.id === "h0" || e.id === "h1") await gate;
    }, { name: "held" });
    // A lease of 2.3 s for 1-s attempts: a batch claimed ahead may wait 0.3 s for a slot.
    const worker = await start(t.outbox.worker({ concurrency: 2, batchSize: 2, leaseMs: 2300, handlerTimeoutMs: 1000 }));
    await quickFirst(attempts);
    attempts.length = 0;
    await t.outbox.publishEvents(Array.from({ length: 4 }, (_, i) => ({ type: "held", source: "test", id: `h${i}` })));
    await waitFor(() => attempts.length === 2, "two deliveries to take both slots");
    await waitFor(async () => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where lease is not null`))[0].n === 4, "a batch claimed ahead");
    // Let the batch claimed ahead wait past its 0.3 s (the passing of time is the scenario here).
    await new Promise((r) => setTimeout(r, 500));
    release();
    // Handed back rather than started late, then claimed again (a second claim each) and delivered once each.
    await waitFor(async () => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where status = 'published' and id like 'h%'`))[0].n === 4, "every event delivered");
    expect([...attempts].sort()).toEqual(["h0", "h1", "h2", "h3"]);
    const claims = await t.sql.unsafe(`select id, attempts, lease_expiries from "${t.schema}".events where id like 'h%' order by id`);
    expect(claims.map((r) => [r.id, r.attempts, r.lease_expiries])).toEqual([["h0", 1, 0], ["h1", 1, 0], ["h2", 2, 0], ["h3", 2, 0]]);
    await worker.stop();
  });
});

describe("start() on an unreachable database", () => {
  it("rejects, and leaves nothing running behind", async () => {
    const sql = connect({ port: 1, connect_timeout: 2 });
    const warnings: string[] = [];
    const logger = { ...t.outbox.logger, warn: (m: string) => void warnings.push(m) };
    const outbox = new Outbox({ sql, schema: t.schema, logger });
    outbox.register("x", () => {}); // a worker with no destination refuses before it connects
    const worker = outbox.worker();
    await expect(worker.start()).rejects.toThrow(/ECONNREFUSED|connect/);
    expect(worker.running).toBe(false);
    // Proving an absence takes a wait: a listener left behind would retry (and warn) within 50, 100, 200 ms.
    await new Promise((r) => setTimeout(r, 600));
    expect(warnings).toEqual([]);
    await sql.end();
  });
});
