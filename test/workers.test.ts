import { spawn } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Worker } from "../mod.ts";
import { toQuery } from "../src/client.ts";
import { claim } from "../src/store/claim.ts";
import { complete, type Outcome } from "../src/store/complete.ts";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
const workers: Worker[] = [];
beforeEach(async () => {
  t = await testOutbox();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await t.drop();
});

describe("a claim says when to look again", () => {
  it("gives the time until the next due event, leaving out what it took; nothing after a full claim; null when nothing waits", async () => {
    const query = toQuery(t.sql);
    const take = (limit: number) => claim(query, t.outbox.schema, limit, crypto.randomUUID(), 60_000);
    expect(await take(10)).toEqual({ rows: [], nextDueMs: null });
    await t.outbox.publishEvents([{ type: "job", source: "test" }, { type: "job", source: "test" }, { type: "job", source: "test" }]);
    await t.outbox.publishEvent({ type: "job", source: "test", scheduledAt: new Date(Date.now() + 60_000) });
    // Full: the worker claims again at once, so the claim does not look.
    expect(await take(1)).toMatchObject({ rows: [expect.anything()], nextDueMs: null });
    // Fewer than asked: the two it took still look due to the statement itself, and must not count.
    const partial = await take(10);
    expect(partial.rows).toHaveLength(2);
    expect(partial.nextDueMs).toBeGreaterThan(55_000);
    expect(partial.nextDueMs).toBeLessThanOrEqual(60_000);
    // Nothing due: the scheduled event is next (leases of 60 s end after it).
    const none = await take(10);
    expect(none.rows).toEqual([]);
    expect(none.nextDueMs).toBeGreaterThan(55_000);
    expect(none.nextDueMs).toBeLessThanOrEqual(60_000);
  });
});

describe("many workers: SKIP LOCKED and leases keep them apart", () => {
  it("never runs the same delivery twice at once across two workers", async () => {
    const inFlight = new Set<string>();
    const runs = new Map<string, number>();
    const overlaps: string[] = [];
    const byWorker = [0, 0];
    for (const [i, outbox] of [await t.another(), await t.another()].entries()) {
      outbox.register("job", async (e) => {
        if (inFlight.has(e.id)) overlaps.push(e.id);
        inFlight.add(e.id);
        runs.set(e.id, (runs.get(e.id) ?? 0) + 1);
        byWorker[i]++;
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        inFlight.delete(e.id);
      }, { name: "jobs" });
      const w = outbox.worker({ concurrency: 16, batchSize: 8 });
      workers.push(w);
      await w.start();
    }
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const batch = await t.outbox.publishEvents(Array.from({ length: 20 }, (_, j) => ({ type: "job", source: "test", data: { i, j } })));
      ids.push(...batch.map((e) => e.id));
    }
    await waitFor(() => ids.every((id) => runs.has(id)), "all 400 events", 20_000);
    await waitFor(async () => (await t.outbox.stats()).published === 400, "all 400 published", 10_000);
    expect(overlaps).toEqual([]);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(byWorker[0] + byWorker[1]).toBe(400);
  });

  it("ignores the late outcome of a worker whose lease was taken over, and keeps the new holder's", async () => {
    const query = toQuery(t.sql);
    const [published] = await t.outbox.publishEvents([{ type: "job", source: "test" }, { type: "job", source: "test" }]);
    const [stalled, fresh] = [crypto.randomUUID(), crypto.randomUUID()];
    expect((await claim(query, t.outbox.schema, 2, stalled, 1)).rows).toHaveLength(2); // a 1-ms lease: expired at once
    await new Promise((r) => setTimeout(r, 20));
    const taken = (await claim(query, t.outbox.schema, 2, fresh, 30_000)).rows;
    expect(taken).toHaveLength(2);
    const outcome = (seq: unknown, status: Outcome["status"]): Outcome => ({
      seq: String(seq), status, deliveries: {}, next_attempt_at: null, last_error: status === "failed" ? "stale" : null,
      attempts: [{ destination: "d", attempt: 1, startedAt: Date.now(), durationMs: 5, outcome: status === "failed" ? "failed" : "delivered", status: null, error: status === "failed" ? "stale" : null }],
    });
    await complete(query, t.outbox.schema, taken.map((r) => outcome(r.seq, "failed")), stalled);
    expect((await t.outbox.getEvent(published.id))?.status).toBe("processing");
    await complete(query, t.outbox.schema, taken.map((r) => outcome(r.seq, "published")), fresh);
    expect(await t.outbox.getEvent(published.id)).toMatchObject({ status: "published", lastError: null });
    // The stale write added nothing to the attempt history either.
    expect((await t.outbox.getEvent(published.id, { history: true }))?.history).toEqual([
      expect.objectContaining({ destination: "d", attempt: 1, outcome: "delivered", durationMs: 5 }),
    ]);
  });

  it("loses nothing when a worker is killed mid-batch: its lease expires and another worker finishes", async () => {
    const events = await t.outbox.publishEvents(Array.from({ length: 30 }, (_, i) => ({ type: "job", source: "test", data: { i } })));
    const child = spawn("node_modules/.bin/bun", ["test/fixtures/crash-worker.ts"], {
      env: { ...process.env, DATABASE_URL: databaseUrl(), SCHEMA: t.schema, LEASE_MS: "1000" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    try {
      await waitFor(() => (out.match(/^started /gm) ?? []).length === 30, "the child to claim every event", 20_000);
    } finally {
      child.kill("SIGKILL");
    }
    await new Promise((r) => child.once("exit", r));
    const held = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where status = 'processing' and lease is not null`);
    expect(held[0].n).toBe(30);

    const killedAt = Date.now();
    const delivered = new Set<string>();
    const rescuer = await t.another();
    rescuer.register("job", (e) => void delivered.add(e.id), { name: "jobs" });
    const w = rescuer.worker({ sweepIntervalMs: 600_000 });
    workers.push(w);
    await w.start();
    await waitFor(() => delivered.size === 30, "the rescuer to deliver every event", 15_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000); // seconds, not hours: the lease was 1 s
    await waitFor(async () => (await t.outbox.stats()).published === 30, "every event recorded as published");
    for (const e of events) {
      expect((await t.outbox.getEvent(e.id))?.deliveries).toEqual([expect.objectContaining({ name: "jobs", status: "delivered", attempts: 1 })]);
    }
  });
});

describe("ordering: events sharing an orderingKey arrive in publish order, one at a time", () => {
  it("keeps per-key order across two workers and a retry, while other keys proceed", async () => {
    const seen = new Map<string, number[]>();
    const active = new Set<string>();
    const overlaps: string[] = [];
    let failedOnce = false;
    async function ledger(e: { data?: unknown }): Promise<void> {
      const { key, n } = e.data as { key: string; n: number };
      if (active.has(key)) overlaps.push(key);
      active.add(key);
      try {
        await new Promise((r) => setTimeout(r, Math.random() * 4));
        if (key === "a" && n === 3 && !failedOnce) {
          failedOnce = true;
          throw new Error("transient");
        }
        seen.set(key, [...(seen.get(key) ?? []), n]);
      } finally {
        active.delete(key);
      }
    }
    for (let i = 0; i < 2; i++) {
      const outbox = await t.another({ retry: { baseDelayMs: 20 } });
      outbox.register("account.changed", ledger);
      const w = outbox.worker({ concurrency: 16 });
      workers.push(w);
      await w.start();
    }
    for (let n = 0; n < 10; n++) {
      await t.outbox.publishEvents(["a", "b", "c"].map((key) => ({ type: "account.changed", source: "ledger", data: { key, n }, orderingKey: key })));
    }
    await waitFor(() => ["a", "b", "c"].every((k) => (seen.get(k) ?? []).length === 10), "every key's events", 15_000);
    for (const key of ["a", "b", "c"]) expect(seen.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(overlaps).toEqual([]);
    expect(failedOnce).toBe(true);
  });
});
