// Transactional local handlers: the handler's writes and the delivery's "delivered" mark commit in one transaction.
import { afterEach, describe, expect, it } from "vitest";
import { DispatchError } from "../mod.ts";
import type { Worker } from "../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await t?.drop();
});

async function effects(): Promise<Map<string, number>> {
  const rows = await t.sql.unsafe(`select event_id, count(*)::int as n from "${t.schema}".effects group by event_id`);
  return new Map(rows.map((r) => [r.event_id as string, r.n as number]));
}

describe("transactional handlers: the handler's writes commit with the delivery, exactly once", () => {
  it("commits the write with the delivered mark; a throw rolls the write back and the retry writes once", async () => {
    t = await testOutbox({ retry: { maxRetries: 5, baseDelayMs: 10, maxDelayMs: 20 } });
    await t.sql.unsafe(`create table "${t.schema}".effects (event_id text not null)`);
    let runs = 0;
    t.outbox.register("paid", async (event, ctx) => {
      runs++;
      await ctx.tx.unsafe(`insert into "${t.schema}".effects (event_id) values ($1)`, [event.id]);
      if (runs < 3) throw new Error(`flaky ${runs}`);
    }, { name: "invoice", transactional: true });
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "paid", source: "s" });
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "published", "the event to be published");
    expect(runs).toBe(3);
    expect(await effects()).toEqual(new Map([[e.id, 1]]));
  });

  it("rolls back a handler that outlives its timeout, even when it finishes later", async () => {
    t = await testOutbox({ retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    await t.sql.unsafe(`create table "${t.schema}".effects (event_id text not null)`);
    let runs = 0;
    t.outbox.register("slow", async (event, ctx) => {
      runs++;
      await ctx.tx.unsafe(`insert into "${t.schema}".effects (event_id) values ($1)`, [event.id]);
      if (runs === 1) await new Promise((r) => setTimeout(r, 400)); // past the 200 ms timeout, then returns
    }, { name: "slowpoke", transactional: true });
    worker = t.outbox.worker({ retention: false, handlerTimeoutMs: 200, leaseMs: 5000 });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "slow", source: "s" });
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "published", "the event to be published");
    await new Promise((r) => setTimeout(r, 300)); // the first run has returned by now, and must have rolled back
    expect(runs).toBe(2);
    expect(await effects()).toEqual(new Map([[e.id, 1]]));
  });

  it("rolls back a handler whose worker lost the event's lease meanwhile; whoever holds it next delivers it once", async () => {
    t = await testOutbox();
    await t.sql.unsafe(`create table "${t.schema}".effects (event_id text not null)`);
    let runs = 0;
    let firstReturned = false;
    t.outbox.register("stolen", async (event, ctx) => {
      runs++;
      await ctx.tx.unsafe(`insert into "${t.schema}".effects (event_id) values ($1)`, [event.id]);
      if (runs === 1) {
        // As if this worker had stalled past its lease and another had taken the event over.
        await t.sql.unsafe(`update "${t.schema}".events set lease = gen_random_uuid() where id = $1`, [event.id]);
        firstReturned = true;
      }
    }, { name: "ledger", transactional: true });
    worker = t.outbox.worker({ retention: false, leaseMs: 2000, handlerTimeoutMs: 500, sweepIntervalMs: 300 });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "stolen", source: "s" });
    await waitFor(() => firstReturned, "the first run to return");
    await new Promise((r) => setTimeout(r, 200)); // its transaction has ended by now: rolled back, not committed
    expect(await effects()).toEqual(new Map());
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "published", "the event to be published once its lease lapses", 15_000);
    expect(runs).toBe(2);
    expect(await effects()).toEqual(new Map([[e.id, 1]]));
  });

  it("a delivery marked delivered in the database is not run again, even if the outcome was never written", async () => {
    t = await testOutbox();
    await t.sql.unsafe(`create table "${t.schema}".effects (event_id text not null)`);
    let runs = 0;
    t.outbox.register("once", async (event, ctx) => {
      runs++;
      await ctx.tx.unsafe(`insert into "${t.schema}".effects (event_id) values ($1)`, [event.id]);
    }, { name: "once", transactional: true });
    // As if a worker committed the handler's transaction and died before writing its outcome: the mark is there,
    // the lease is stale.
    const e = await t.outbox.publishEvent({ type: "once", source: "s" });
    await t.sql.unsafe(
      `update "${t.schema}".events set deliveries = '{"once": {"status": "delivered", "attempts": 1, "lastError": null, "nextAttemptAt": null, "deliveredAt": 1}}',
         lease = gen_random_uuid(), status = 'processing', next_attempt_at = now() - interval '1 second' where id = $1`,
      [e.id],
    );
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "published", "the event to be published");
    expect(runs).toBe(0);
  });

  it("is refused for destinations that are not handler functions, and for a non-boolean", async () => {
    t = await testOutbox();
    expect(() => t.outbox.register("x", { name: "d", deliver: async () => {} }, { transactional: true } as never)).toThrow(DispatchError);
    expect(() => t.outbox.register("x", () => {}, { transactional: "yes" as never })).toThrow(DispatchError);
  });
});
