// Wake-up modes: how a worker learns of new events. The poll mode and the option checks run on any server; the
// logical mode's own tests need wal_level=logical and live in test/wake-logical.test.ts, PgBouncer's in
// test/wake-pgbouncer.test.ts.
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DeliveredEvent, DispatchError, Outbox, type Worker } from "../mod.ts";
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

/** A separate session listening on the outbox's channel and a marker channel; `seen` lists what arrived. */
async function listening(): Promise<{ seen: string[]; marked: () => Promise<void>; end: () => Promise<void> }> {
  const listener = new pg.Client({ connectionString: databaseUrl() });
  await listener.connect();
  const seen: string[] = [];
  listener.on("notification", (n) => seen.push(n.channel));
  await listener.query(`listen "${t.schema}"`);
  await listener.query(`listen "${t.schema}_marker"`);
  return {
    seen,
    // A marker sent after the commit: once it arrives, every notification sent before it has arrived.
    async marked() {
      await t.sql.unsafe(`select pg_notify('${t.schema}_marker', '')`);
      await waitFor(() => seen.includes(`${t.schema}_marker`), "the marker notification", 5000);
    },
    end: () => listener.end(),
  };
}

describe("the producer's transaction carries no NOTIFY outside the notify mode", () => {
  for (const wake of ["poll", "logical"] as const) {
    it(`wake: "${wake}" publishes one event, many events and a transaction's events without pg_notify`, async () => {
      const outbox = await t.another({ wake });
      const { seen, marked, end } = await listening();
      try {
        await outbox.publishEvent({ type: "one", source: "w" });
        await outbox.publishEvents([{ type: "a", source: "w" }, { type: "b", source: "w" }], { notify: true });
        await t.sql.begin(async (tx) => {
          await outbox.publishEvent({ type: "in.tx", source: "w" }, { tx });
        });
        await marked();
        expect(seen).toEqual([`${t.schema}_marker`]);
        expect((await outbox.listEvents()).events).toHaveLength(4);
      } finally {
        await end();
      }
    });
  }

  it("the notify mode still sends one", async () => {
    const { seen, marked, end } = await listening();
    try {
      await t.outbox.publishEvent({ type: "one", source: "w" });
      await marked();
      expect(seen).toEqual([t.schema, `${t.schema}_marker`]);
    } finally {
      await end();
    }
  });
});

describe("the poll mode delivers without any notification", () => {
  it("delivers a committed event within a poll interval although the safety sweep is minutes away", async () => {
    const outbox = await t.another({ wake: "poll" });
    const seen: DeliveredEvent[] = [];
    outbox.register("*", (event) => void seen.push(event));
    const worker = outbox.worker({ sweepIntervalMs: 600_000, pollIntervalMs: 50 });
    workers.push(worker);
    await worker.start();
    expect(worker.wake).toBe("poll");
    const published = [];
    for (let i = 0; i < 20; i++) published.push((await outbox.publishEvent({ type: "polled", source: "w", data: { i } })).id);
    await waitFor(() => seen.length === 20, "every event to be delivered by polling", 5000);
    expect(seen.map((e) => e.id).sort()).toEqual(published.sort());
  });

  it("finds a scheduled event when it falls due", async () => {
    const outbox = await t.another({ wake: "poll" });
    const seen: DeliveredEvent[] = [];
    outbox.register("*", (event) => void seen.push(event));
    const worker = outbox.worker({ sweepIntervalMs: 600_000, pollIntervalMs: 50 });
    workers.push(worker);
    await worker.start();
    const at = new Date(Date.now() + 300);
    await outbox.publishEvent({ type: "later", source: "w", scheduledAt: at });
    await waitFor(() => seen.length === 1, "the scheduled event", 5000);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  });
});

describe("guarantee 9: wake-up options are checked", () => {
  it("refuses an unknown mode, a listenUrl that is not a postgres URL and a bad poll interval", () => {
    expect(() => new Outbox({ sql: t.sql, wake: "listen" as never })).toThrow(/wake must be one of "notify", "logical", "poll"/);
    expect(() => new Outbox({ sql: t.sql, listenUrl: "localhost:5432" })).toThrow(/listenUrl must be a postgres:\/\/ URL/);
    expect(() => t.outbox.worker({ pollIntervalMs: 0 })).toThrow(/pollIntervalMs must be a whole number from 10/);
    expect(new Outbox({ sql: t.sql }).wake).toBe("notify");
  });

  it("refuses to start the logical mode on a server without wal_level=logical, naming the fix", async () => {
    const [{ wal_level: level }] = await t.sql`show wal_level`;
    if (level === "logical") return; // this server can follow the WAL; test/wake-logical.test.ts covers it
    const outbox = await t.another({ wake: "logical" });
    outbox.register("x", () => {}, { name: "x" }); // past the start check for destinations, to the wake-up check
    const worker = outbox.worker();
    const err = await worker.start().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).code).toBe("logical_unavailable");
    expect((err as Error).message).toMatch(/wal_level=logical.*ALTER SYSTEM SET wal_level = logical/);
    expect(worker.running).toBe(false);
  });
});
