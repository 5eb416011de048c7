// Replay: finished events sent to one destination again, or for the first time (backfill), the others untouched.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PermanentError, type Worker } from "../mod.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
let worker: Worker | null = null;
const calls: Record<string, string[]> = {};
const broken = new Set<string>();

function count(name: string, type = "*"): void {
  calls[name] = [];
  t.outbox.register(type, (event) => {
    calls[name].push(event.id);
    if (broken.has(name)) throw new PermanentError(`${name} is down`);
  }, { name });
}

async function restart(): Promise<void> {
  await worker?.stop();
  worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
  await worker.start();
}

beforeEach(async () => {
  t = await testOutbox();
  for (const k of Object.keys(calls)) delete calls[k];
  broken.clear();
  count("A");
  count("B");
  await restart();
});
afterEach(async () => {
  await worker?.stop();
  worker = null;
  await t.drop();
});

async function settled(ids: string[], status = "published"): Promise<void> {
  await waitFor(async () => {
    for (const id of ids) if ((await t.outbox.getEvent(id))?.status !== status) return false;
    return true;
  }, `${ids.length} events ${status}`);
}

describe("replayEvents", () => {
  it("sends finished events to one destination again, and backfills a destination registered later; the others are not called", async () => {
    const orders = await t.outbox.publishEvents(Array.from({ length: 5 }, (_, i) => ({ type: "order.created", source: "shop", data: { i } })));
    const [other] = await t.outbox.publishEvents([{ type: "user.created", source: "users" }]);
    const ids = orders.map((e) => e.id);
    await settled([...ids, other.id]);
    expect(calls.A).toHaveLength(6);
    expect(calls.B).toHaveLength(6);

    expect(await t.outbox.replayEvents({ type: "order.*" }, { destination: "B", dryRun: true })).toBe(5);
    expect(calls.B).toHaveLength(6); // a dry run changes nothing
    expect(await t.outbox.replayEvents({ type: "order.*" }, { destination: "B" })).toBe(5);
    await waitFor(() => calls.B.length === 11, "B sent the orders again");
    await settled(ids);
    expect(calls.A).toHaveLength(6);
    expect(calls.B.slice(6).sort()).toEqual([...ids].sort());
    const e = await t.outbox.getEvent(ids[0]);
    expect(e?.deliveries.map((d) => [d.name, d.status, d.attempts])).toEqual([["A", "delivered", 1], ["B", "delivered", 2]]);

    // C is registered after the events were published: a backfill sends them to C alone.
    count("C");
    await restart();
    expect(await t.outbox.replayEvents({ type: "order.*" }, { destination: "C" })).toBe(5);
    await waitFor(() => calls.C.length === 5, "C backfilled");
    await settled(ids);
    expect(calls.C.sort()).toEqual([...ids].sort());
    expect(calls.A).toHaveLength(6);
    expect(calls.B).toHaveLength(11);
    expect((await t.outbox.getEvent(ids[0]))?.deliveries.map((d) => [d.name, d.status, d.attempts])).toEqual([
      ["A", "delivered", 1], ["B", "delivered", 2], ["C", "delivered", 1],
    ]);
    // The user event was not in the filter: C never saw it.
    expect((await t.outbox.getEvent(other.id))?.deliveries.map((d) => d.name)).toEqual(["A", "B"]);
  });

  it("a replay to one destination does not send the event to another registered since, which never had it", async () => {
    const [e] = await t.outbox.publishEvents([{ type: "x", source: "s" }]);
    await settled([e.id]);
    count("D");
    await restart();
    expect(await t.outbox.replayEvents({ id: e.id }, { destination: "A" })).toBe(1);
    await waitFor(() => calls.A.length === 2, "A sent it again");
    await settled([e.id]);
    expect(calls.D).toHaveLength(0);
    expect(calls.B).toHaveLength(1);
    // The mark is gone once the replayed delivery finished: a later replay to D backfills it normally.
    expect(await t.outbox.replayEvents({ id: e.id }, { destination: "D" })).toBe(1);
    await waitFor(() => calls.D.length === 1, "D backfilled");
  });

  it("gives a failed delivery a fresh budget and keeps the event failed while another delivery is failed", async () => {
    broken.add("A").add("B");
    const [e] = await t.outbox.publishEvents([{ type: "x", source: "s", maxRetries: 0 }]);
    await settled([e.id], "failed");
    const before = await t.outbox.getEvent(e.id);
    expect(before?.deliveries.find((d) => d.name === "B")?.status).toBe("failed");
    broken.delete("B");
    const aCalls = calls.A.length;
    expect(await t.outbox.replayEvents({ status: "failed" }, { destination: "B" })).toBe(1);
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.deliveries.find((d) => d.name === "B")?.status === "delivered", "B delivered");
    const after = await t.outbox.getEvent(e.id);
    expect(after?.status).toBe("failed"); // A is still failed
    expect(after?.deliveries.find((d) => d.name === "A")?.status).toBe("failed");
    expect(after?.deliveries.find((d) => d.name === "B")?.attempts).toBe(2);
    expect(calls.A.length).toBe(aCalls);
  });

  it("leaves unfinished events alone, walks past one batch, and refuses bad input", async () => {
    await worker?.stop();
    worker = null;
    const waiting = await t.outbox.publishEvents(Array.from({ length: 3 }, () => ({ type: "w", source: "s" })));
    expect(await t.outbox.replayEvents({}, { destination: "B", dryRun: true })).toBe(0);
    expect(await t.outbox.replayEvents({}, { destination: "B" })).toBe(0);
    await t.sql.unsafe(`update "${t.schema}".events set status = 'published', next_attempt_at = null, published_at = now()`);
    await t.outbox.publishEvents(Array.from({ length: 1203 }, (_, i) => ({ type: "bulk", source: "s", data: { i } })), { notify: false });
    await t.sql.unsafe(`update "${t.schema}".events set status = 'published', next_attempt_at = null, published_at = now() where type = 'bulk'`);
    expect(await t.outbox.replayEvents({}, { destination: "B", dryRun: true })).toBe(1206);
    expect(await t.outbox.replayEvents({ type: "bulk" }, { destination: "B" })).toBe(1203);
    expect(await t.outbox.replayEvents({ type: "bulk" }, { destination: "B" })).toBe(0); // now pending: in flight
    expect((await t.outbox.getEvent(waiting[0].id))?.deliveries).toEqual([]);
    await expect(t.outbox.replayEvents({ status: "pending" }, { destination: "B" })).rejects.toThrow(/Only finished events/);
    await expect(t.outbox.replayEvents({}, {} as never)).rejects.toThrow(/needs \{ destination \}/);
    await expect(t.outbox.replayEvents({}, { destination: "" })).rejects.toThrow(/destination name/);
    await expect(t.outbox.replayEvents({}, { destination: "B", dryrun: true } as never)).rejects.toThrow(/Unknown option "dryrun"/);
  });

  it("refuses a destination this process does not register, changing nothing; a process that registers none may name any", async () => {
    const [e] = await t.outbox.publishEvents([{ type: "x", source: "s" }]);
    await settled([e.id]);
    // A mistyped name would leave a delivery pending that no worker ever attempts, on an event that reads published.
    await expect(t.outbox.replayEvents({ id: e.id }, { destination: "Bee" })).rejects.toThrow(/No destination named "Bee" is registered here \(registered: A, B\)/);
    await expect(t.outbox.replayEvents({ id: e.id }, { destination: "Bee", dryRun: true })).rejects.toThrow(/No destination named "Bee"/);
    expect((await t.outbox.getEvent(e.id))?.deliveries.map((d) => d.name)).toEqual(["A", "B"]);
    // An operator's process (a script, the router or dashboard alone) registers nothing: it cannot know the workers'.
    const bare = await t.another();
    expect(await bare.replayEvents({ id: e.id }, { destination: "B" })).toBe(1);
    await waitFor(() => calls.B.length === 2, "B sent it again");
  });

  it("sends a destination only the events whose type it is registered for, so none is left pending for nobody", async () => {
    count("orders", "order.*");
    await restart();
    const events = await t.outbox.publishEvents([{ type: "order.placed", source: "s" }, { type: "user.created", source: "s" }]);
    await settled(events.map((e) => e.id));
    expect(calls.orders).toEqual([events[0].id]);
    expect(await t.outbox.replayEvents({}, { destination: "orders", dryRun: true })).toBe(1);
    expect(await t.outbox.replayEvents({}, { destination: "orders" })).toBe(1);
    await waitFor(() => calls.orders.length === 2, "orders sent order.placed again");
    await settled(events.map((e) => e.id));
    expect(calls.orders).toEqual([events[0].id, events[0].id]);
    expect((await t.outbox.getEvent(events[1].id))?.deliveries.map((d) => d.name)).toEqual(["A", "B"]);
  });

  it("a replay from a process that cannot tell the routes, of a type the destination is not registered for, fails that delivery saying why, and so does a retry of it", async () => {
    count("orders", "order.*");
    await restart();
    const [user] = await t.outbox.publishEvents([{ type: "user.created", source: "s" }]);
    await settled([user.id]);
    // The router or dashboard alone registers nothing: it replays whatever the filter matches.
    const bare = await t.another();
    expect(await bare.replayEvents({ id: user.id }, { destination: "orders" })).toBe(1);
    await settled([user.id], "failed");
    const record = await t.outbox.getEvent(user.id);
    const orders = record?.deliveries.find((d) => d.name === "orders");
    expect(orders?.status).toBe("failed");
    expect(orders?.lastError).toBe('orders is not registered for events of type "user.created", so no worker sends it this replay.');
    expect(record?.deliveries.filter((d) => d.name !== "orders").map((d) => d.status)).toEqual(["delivered", "delivered"]);
    expect(calls.orders).toEqual([]);

    // The failures page offers Retry; nothing attempts a delivery to a destination not registered for the type.
    expect(await t.outbox.retryEvent(user.id)).not.toBeNull();
    await waitFor(async () => ["published", "failed"].includes((await t.outbox.getEvent(user.id))?.status ?? ""), "the retried event to settle");
    const retried = await t.outbox.getEvent(user.id);
    const again = retried?.deliveries.find((d) => d.name === "orders");
    // Not pending for nobody on an event that reads published.
    expect({ status: retried?.status, orders: again?.status }).toEqual({ status: "failed", orders: "failed" });
    expect(again?.lastError).toBe('orders is not registered for events of type "user.created", so no worker attempts this delivery.');
    expect(calls.orders).toEqual([]);
  });
});
