// Bulk retry and the retry of one destination: failed deliveries become due again, the rest are left alone.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Outbox, PermanentError, type Worker } from "../mod.ts";
import { OutboxReader } from "../src/reader.ts";
import { connect, testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
let worker: Worker | null = null;
const broken = new Set<string>();
const calls: Record<string, number> = {};

beforeEach(async () => {
  t = await testOutbox();
  broken.clear();
  for (const name of ["billing", "mailer"]) {
    calls[name] = 0;
    t.outbox.register("*", () => {
      calls[name]++;
      if (broken.has(name)) throw new PermanentError(`${name} is down`);
    }, { name });
  }
  worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
  await worker.start();
});
afterEach(async () => {
  await worker?.stop();
  await t.drop();
});

async function settledAll(ids: string[], status: string) {
  await waitFor(async () => {
    for (const id of ids) if ((await t.outbox.getEvent(id))?.status !== status) return false;
    return true;
  }, `${ids.length} events ${status}`);
}

describe("retryEvents: every failed delivery matching a filter becomes due again", () => {
  it("counts with dryRun, retries only the filter's events, and the worker delivers them", async () => {
    broken.add("billing");
    const orders = await t.outbox.publishEvents(Array.from({ length: 7 }, (_, i) => ({ type: "order.created", source: "shop", data: { i } })));
    const users = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "user.created", source: "users", data: { i } })));
    await settledAll([...orders, ...users].map((e) => e.id), "failed");
    expect(await t.outbox.retryEvents({ type: "order.*" }, { dryRun: true })).toBe(7);
    expect(await t.outbox.retryEvents({ type: "order.*", source: "elsewhere" }, { dryRun: true })).toBe(0);
    expect(await new OutboxReader(t.outbox).retryCount({ type: "order.*" }, 5)).toBe(5);
    broken.clear();
    expect(await t.outbox.retryEvents({ type: "order.*" })).toBe(7);
    await settledAll(orders.map((e) => e.id), "published");
    for (const u of users) expect((await t.outbox.getEvent(u.id))?.status).toBe("failed");
    expect(calls.mailer).toBe(10); // mailer succeeded the first time and was not called again
  });

  it("walks a set larger than one batch", async () => {
    broken.add("mailer");
    const many = await t.outbox.publishEvents(Array.from({ length: 1203 }, (_, i) => ({ type: "bulk", source: "s", data: { i } })));
    await waitFor(async () => (await t.outbox.retryEvents({}, { dryRun: true })) === 1203, "all failed", 30_000);
    broken.clear();
    // Through an outbox of its own whose client logs each statement: the walk is several bounded statements (500
    // events each, each its own transaction), not one update of the whole set.
    const statements: string[] = [];
    const logged = connect({ debug: (_connection, query) => void statements.push(query) });
    try {
      const counted = new Outbox({ sql: logged, schema: t.schema });
      expect(await counted.retryEvents({ destination: "mailer" })).toBe(1203);
    } finally {
      await logged.end();
    }
    expect(statements.filter((q) => /^\s*(with|update)\b/i.test(q) && /\bupdate\b/i.test(q))).toHaveLength(3);
    expect(statements.some((q) => /^\s*begin\b/i.test(q))).toBe(false);
    await settledAll([many[0].id, many[600].id, many[1202].id], "published");
  });

  it("with a destination, resets only that destination's failed delivery", async () => {
    broken.add("billing").add("mailer");
    const [e] = await t.outbox.publishEvents([{ type: "x", source: "s" }]);
    await settledAll([e.id], "failed");
    broken.clear();
    expect(await t.outbox.retryEvents({ destination: "billing" })).toBe(1);
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.deliveries.find((d) => d.name === "billing")?.status === "delivered", "billing delivered");
    const after = await t.outbox.getEvent(e.id);
    expect(after?.status).toBe("failed");
    expect(after?.deliveries.find((d) => d.name === "mailer")?.status).toBe("failed");
    expect(calls.mailer).toBe(1);
  });

  it("narrows by when the event was stored: from inclusive, to exclusive (retry and replay alike)", async () => {
    broken.add("billing");
    const three = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "timed", source: "s", data: { i } })));
    await settledAll(three.map((e) => e.id), "failed");
    const hour = 3_600_000;
    const t0 = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (const [i, e] of three.entries()) {
      await t.sql.unsafe(`update "${t.schema}".events set created_at = $1 where id = $2`, [new Date(t0.getTime() - (3 - i) * hour), e.id]);
    }
    const at = (h: number) => new Date(t0.getTime() - h * hour);
    const dryRun = true;
    expect(await t.outbox.retryEvents({ type: "timed", from: at(2), to: at(1) }, { dryRun })).toBe(1);
    expect(await t.outbox.retryEvents({ type: "timed", to: at(2) }, { dryRun })).toBe(1);
    expect(await t.outbox.retryEvents({ type: "timed", from: at(2) }, { dryRun })).toBe(2);
    expect(await t.outbox.replayEvents({ type: "timed", from: at(3), to: at(1) }, { destination: "billing", dryRun })).toBe(2);
    broken.clear();
    expect(await t.outbox.retryEvents({ type: "timed", from: at(2), to: at(1) })).toBe(1);
    await settledAll([three[1].id], "published");
    expect((await t.outbox.getEvent(three[0].id))?.status).toBe("failed");
    expect((await t.outbox.getEvent(three[2].id))?.status).toBe("failed");
  });

  it("refuses a status other than failed, and unknown filter keys", async () => {
    await expect(t.outbox.retryEvents({ status: "pending" })).rejects.toThrow(/Only failed events/);
    await expect(t.outbox.retryEvents({ stauts: "failed" } as never)).rejects.toThrow(/Unknown option "stauts"/);
  });

  it("refuses a dryRun that is not true or false, and retries nothing", async () => {
    broken.add("billing");
    const e = await t.outbox.publishEvent({ type: "x", source: "s", maxRetries: 0 });
    await settledAll([e.id], "failed");
    for (const dryRun of [0, "", "true", null]) {
      await expect(t.outbox.retryEvents({}, { dryRun } as never), String(dryRun)).rejects.toThrow(/dryRun must be true or false/);
    }
    expect((await t.outbox.getEvent(e.id))?.status).toBe("failed");
  });
});

describe("retryEvent(id, { destination }): one delivery", () => {
  it("retries one destination and leaves the other failed", async () => {
    broken.add("billing").add("mailer");
    const e = await t.outbox.publishEvent({ type: "x", source: "s" });
    await settledAll([e.id], "failed");
    const failedAt = async () => (await t.sql.unsafe(`select failed_at from "${t.schema}".events where id = $1`, [e.id]))[0].failed_at;
    const first = await failedAt();
    expect(first).toBeInstanceOf(Date); // the worker records when the event failed (the dashboard's chart reads it)
    broken.clear();
    const retried = await t.outbox.retryEvent(e.id, { destination: "mailer" });
    expect(retried?.deliveries.map((d) => [d.name, d.status])).toEqual([["billing", "failed"], ["mailer", "pending"]]);
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.deliveries.find((d) => d.name === "mailer")?.status === "delivered", "mailer delivered");
    expect(await failedAt()).toEqual(first); // still failed at billing: the time of the first failure stays
    expect(await t.outbox.retryEvent(e.id, { destination: "billing" })).toMatchObject({ status: "pending" });
    expect(await failedAt()).toBeNull();
    await settledAll([e.id], "published");
  });
});
