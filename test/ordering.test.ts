// Guarantee 7, ordering: events sharing an orderingKey reach each destination in publish order, one at a time.
// Events waiting behind an unfinished one are parked (out of the claim's path) and released one by one as the key's
// events finish; a release lost to a race is repaired by the worker; a scheduled event holds its key.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DeliveredEvent, type DeliveryContext, DispatchError, type Outbox, type Worker } from "../mod.ts";
import { toQuery } from "../src/client.ts";
import { claim } from "../src/store/claim.ts";
import { repair } from "../src/store/repair.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
const workers: Worker[] = [];
beforeEach(async () => {
  t = await testOutbox();
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await t.drop();
});

async function start(outbox: Outbox, options: Parameters<Outbox["worker"]>[0] = {}): Promise<Worker> {
  const w = outbox.worker(options);
  workers.push(w);
  await w.start();
  return w;
}

/** The stored ordering state of events by id: parked, and whether they are due (next_attempt_at set). */
async function states(ids: string[]): Promise<Array<{ parked: boolean; due: boolean }>> {
  const rows = await t.sql.unsafe(
    `select id, parked, next_attempt_at is not null as due from "${t.schema}".events where id = any($1::text[])`,
    [ids],
  );
  const byId = new Map(rows.map((r) => [r.id as string, { parked: r.parked as boolean, due: r.due as boolean }]));
  return ids.map((id) => byId.get(id)!);
}

async function parkedCount(): Promise<number> {
  return (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where parked`))[0].n;
}

describe("events behind an unfinished one wait parked and drain in order once it finishes", () => {
  it("parks followers of a retrying event, reports them pending, then delivers the chain in order", async () => {
    let headOk = false;
    const seen: number[] = [];
    // The head's retry waits a second or two: the followers are published while it waits, not while a worker holds
    // it (an event published behind an event in flight is not parked; the worker releases it as that one finishes).
    const outbox = await t.another({ retry: { baseDelayMs: 2000, maxDelayMs: 2000 } });
    outbox.register("account.changed", (e: DeliveredEvent) => {
      const { n } = e.data as { n: number };
      if (n === 0 && !headOk) throw new Error("not yet");
      seen.push(n);
    });
    await start(outbox);
    const head = await t.outbox.publishEvent({ type: "account.changed", source: "ledger", data: { n: 0 }, orderingKey: "acct" });
    // Its first attempt recorded (not merely claimed: an event a worker holds right now has no followers parked).
    await waitFor(async () => ((await t.outbox.getEvent(head.id))!.deliveries[0]?.attempts ?? 0) >= 1, "the head's first attempt to be recorded");
    // Followers through both publish paths: a batch, then single events.
    const batch = await t.outbox.publishEvents(Array.from({ length: 40 }, (_, i) => ({
      type: "account.changed", source: "ledger", data: { n: i + 1 }, orderingKey: "acct",
    })));
    const singles = [];
    for (let n = 41; n <= 45; n++) {
      singles.push(await t.outbox.publishEvent({ type: "account.changed", source: "ledger", data: { n }, orderingKey: "acct" }));
    }
    const followers = [...batch, ...singles].map((e) => e.id);
    expect(await states(followers)).toEqual(followers.map(() => ({ parked: true, due: false })));
    // Parked is an internal state: to users these events are pending.
    expect((await t.outbox.getEvent(followers[3]))?.status).toBe("pending");
    const page = await t.outbox.listEvents({ status: "pending", limit: 100 });
    expect(page.events.map((e) => e.id)).toEqual(expect.arrayContaining(followers));
    const stats = await t.outbox.stats();
    expect(stats.pending).toBeGreaterThanOrEqual(45);
    expect(seen).toEqual([]);

    headOk = true;
    await waitFor(() => seen.length === 46, "the whole chain", 15_000);
    expect(seen).toEqual(Array.from({ length: 46 }, (_, i) => i));
    expect(await parkedCount()).toBe(0);
  });

  it("parks again an event that was published while the event ahead was in flight, when that one must retry", async () => {
    let releaseHead!: (fail: boolean) => void;
    const headDecision = new Promise<boolean>((r) => (releaseHead = r));
    let headAttempts = 0;
    const seen: number[] = [];
    const outbox = await t.another({ retry: { baseDelayMs: 60 * 60_000, maxDelayMs: 60 * 60_000 } });
    outbox.register("account.changed", async (e: DeliveredEvent) => {
      const { n } = e.data as { n: number };
      if (n === 0 && ++headAttempts === 1 && (await headDecision)) throw new Error("retry later");
      seen.push(n);
    });
    await start(outbox, { sweepIntervalMs: 100 });
    const head = await t.outbox.publishEvent({ type: "account.changed", source: "ledger", data: { n: 0 }, orderingKey: "acct" });
    await waitFor(() => headAttempts === 1, "the head in flight");
    // Published while the head is in flight: the head is about to finish, so this one is not parked; it waits due.
    const next = await t.outbox.publishEvent({ type: "account.changed", source: "ledger", data: { n: 1 }, orderingKey: "acct" });
    const after = await t.outbox.publishEvent({ type: "account.changed", source: "ledger", data: { n: 2 }, orderingKey: "acct" });
    expect(await states([next.id, after.id])).toEqual([{ parked: false, due: true }, { parked: true, due: false }]);
    releaseHead(true);
    // The head must retry (in an hour): the event behind it leaves the claim's path too.
    await waitFor(async () => (await states([next.id]))[0].parked, "the next event to be parked again");
    expect(await states([next.id, after.id])).toEqual([{ parked: true, due: false }, { parked: true, due: false }]);
    expect(seen).toEqual([]);
    // The retry falls due now.
    await t.sql.unsafe(`
      update "${t.schema}".events
      set next_attempt_at = now(),
          deliveries = (select jsonb_object_agg(k, v || '{"nextAttemptAt": null}') from jsonb_each(deliveries) d(k, v))
      where id = $1`, [head.id]);
    await waitFor(() => seen.length === 3, "the chain after the retry", 10_000);
    expect(seen).toEqual([0, 1, 2]);
  });

  it("keeps per-key order with concurrent publishers, two workers and failing attempts", async () => {
    const KEYS = ["a", "b", "c"];
    const delivered = new Map<string, string[]>();
    const active = new Set<string>();
    const overlaps: string[] = [];
    async function ledger(e: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
      const key = ctx.orderingKey!;
      if (active.has(key)) overlaps.push(key);
      active.add(key);
      try {
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        if (Math.random() < 0.2) throw new Error("transient");
        delivered.set(key, [...(delivered.get(key) ?? []), e.id]);
      } finally {
        active.delete(key);
      }
    }
    for (let i = 0; i < 2; i++) {
      const outbox = await t.another({ retry: { baseDelayMs: 5, maxDelayMs: 20 } });
      outbox.register("account.changed", ledger);
      // No safety sweep during the test: every event must be released by the events ahead of it.
      await start(outbox, { concurrency: 8, sweepIntervalMs: 600_000 });
    }
    const publishers = await Promise.all([0, 1, 2, 3].map(() => t.another()));
    await Promise.all(publishers.map(async (p, w) => {
      for (let n = 0; n < 30; n++) {
        const key = KEYS[(n + w) % KEYS.length];
        if (n % 3 === 0) {
          await p.publishEvents([0, 1].map((j) => ({ type: "account.changed", source: `p${w}`, data: { n, j }, orderingKey: key })));
        } else {
          await p.publishEvent({ type: "account.changed", source: `p${w}`, data: { n }, orderingKey: key });
        }
      }
    }));
    const total = 4 * 40;
    await waitFor(() => [...delivered.values()].reduce((s, ids) => s + ids.length, 0) === total, "every event", 30_000);
    // Publish order is the order events were stored. Two publishers inserting the same key at the same moment have
    // no order between them (one may take the lower sequence number and commit later): each publisher's own events,
    // published one after another, must arrive in its order.
    const rows = await t.sql.unsafe(`select id, source, ordering_key from "${t.schema}".events order by seq`);
    for (const key of KEYS) {
      const got = delivered.get(key) ?? [];
      expect(got).toHaveLength(rows.filter((r) => r.ordering_key === key).length);
      for (const source of ["p0", "p1", "p2", "p3"]) {
        const mine = new Set(rows.filter((r) => r.ordering_key === key && r.source === source).map((r) => r.id as string));
        expect(got.filter((id) => mine.has(id))).toEqual(rows.filter((r) => r.ordering_key === key && r.source === source).map((r) => r.id));
      }
    }
    expect(overlaps).toEqual([]);
    expect(await parkedCount()).toBe(0);
  });
});

describe("two publishers of one key whose transactions overlap", () => {
  it("holds the lower sequence number, committed last, while the higher one is in a worker's hands", async () => {
    const query = toQuery(t.sql);
    // The first publisher takes the lower sequence number and commits last.
    let commitFirst!: () => void;
    const held = new Promise<void>((r) => commitFirst = r);
    let inserted!: () => void;
    const insertedFirst = new Promise<void>((r) => inserted = r);
    const first = t.sql.begin(async (tx) => {
      await t.outbox.publishEvent({ type: "t", source: "first", orderingKey: "k" }, { tx });
      inserted();
      await held;
    });
    await insertedFirst;
    const second = await t.outbox.publishEvent({ type: "t", source: "second", orderingKey: "k" });
    const [claimed] = (await claim(query, t.outbox.schema, 10, crypto.randomUUID(), 60_000)).rows;
    expect(claimed.id).toBe(second.id);
    commitFirst();
    await first;
    expect((await claim(query, t.outbox.schema, 10, crypto.randomUUID(), 60_000)).rows).toEqual([]);
    // Once the lease runs out (the worker holding it stopped), the key moves again.
    await t.sql.unsafe(`update "${t.schema}".events set next_attempt_at = now() - interval '1 second' where id = $1`, [second.id]);
    const after = (await claim(query, t.outbox.schema, 10, crypto.randomUUID(), 60_000)).rows;
    expect(after.map((r) => r.source).sort()).toEqual(["first"]);
  });
});

describe("repair: a parked event with nothing unfinished ahead of it is released", () => {
  it("releases the first parked event of a key whose earlier events have finished, and no other", async () => {
    // The lost-release state, made directly: a parked event with nothing ahead of it (its publisher parked it while
    // the event ahead finished, and that finish could not see it yet).
    const lost = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "lost" });
    const behindLost = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "lost" });
    await t.sql.unsafe(`update "${t.schema}".events set parked = true, next_attempt_at = null where id = $1`, [lost.id]);
    // A key that is rightly held: a scheduled event ahead, one parked behind it.
    await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "held", scheduledAt: new Date(Date.now() + 3_600_000) });
    const held = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "held" });
    expect(await states([lost.id, behindLost.id, held.id])).toEqual([
      { parked: true, due: false }, { parked: true, due: false }, { parked: true, due: false },
    ]);

    const released = await repair(toQuery(t.sql), t.outbox.schema);
    expect(released).toBe(1);
    expect(await states([lost.id, behindLost.id, held.id])).toEqual([
      { parked: false, due: true }, { parked: true, due: false }, { parked: true, due: false },
    ]);
    expect(await repair(toQuery(t.sql), t.outbox.schema)).toBe(0);
  });

  it("the worker repairs when it starts, and the chain then drains", async () => {
    const seen: string[] = [];
    const a = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "k" });
    const b = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "k" });
    await t.sql.unsafe(`update "${t.schema}".events set parked = true, next_attempt_at = null where id = $1`, [a.id]);
    const outbox = await t.another();
    outbox.register("t", (e: DeliveredEvent) => void seen.push(e.id));
    await start(outbox, { sweepIntervalMs: 600_000 });
    await waitFor(() => seen.length === 2, "both events");
    expect(seen).toEqual([a.id, b.id]);
  });
});

describe("scheduledAt is bounded, and a scheduled event holds its key", () => {
  async function refusal(call: () => Promise<unknown>): Promise<DispatchError> {
    const err = await call().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).code).toBe("invalid_option");
    expect((err as DispatchError).message).toMatch(/scheduledAt/);
    return err as DispatchError;
  }

  it("refuses times PostgreSQL cannot store, and times further ahead than maxScheduleAheadMs", async () => {
    const year = 365.25 * 24 * 3_600_000;
    await refusal(() => t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: "9999-12-31T23:59:59Z" }));
    await refusal(() => t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: new Date(8.64e15) }));
    await refusal(() => t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: new Date(-8.64e15) }));
    await refusal(() => t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: new Date(Date.now() + 2 * year) }));
    const err = await refusal(() => t.outbox.publishEvents([
      { type: "t", source: "s" },
      { type: "t", source: "s", scheduledAt: new Date(Date.now() + 2 * year) },
    ]));
    expect(err.message).toMatch(/maxScheduleAheadMs/);
    expect((await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`))[0].n).toBe(0);
    // Within the bound, and in the past (due at once), is fine.
    await t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: new Date(Date.now() + 0.9 * year) });
    await t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: new Date("1999-01-01T00:00:00Z") });
    // The bound is an Outbox option.
    const patient = await t.another({ maxScheduleAheadMs: Math.round(3 * year) });
    await patient.publishEvent({ type: "t", source: "s", scheduledAt: new Date(Date.now() + 2 * year) });
    await refusal(() => patient.publishEvent({ type: "t", source: "s", scheduledAt: new Date(Date.now() + 4 * year) }));
    await expect(t.another({ maxScheduleAheadMs: -1 })).rejects.toThrow(/maxScheduleAheadMs/);
  });

  it("an event scheduled with an ordering key holds the events behind it until it is delivered", async () => {
    const seen: string[] = [];
    const outbox = await t.another();
    outbox.register("t", (e: DeliveredEvent) => void seen.push(e.id));
    await start(outbox, { sweepIntervalMs: 100 });
    const scheduled = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "k", scheduledAt: new Date(Date.now() + 3_600_000) });
    const behind = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "k" });
    const other = await t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "other" });
    await waitFor(() => seen.includes(other.id), "the other key's event");
    expect(await states([behind.id])).toEqual([{ parked: true, due: false }]);
    expect(seen).toEqual([other.id]);
    await t.sql.unsafe(`update "${t.schema}".events set next_attempt_at = now(), scheduled_at = now() where id = $1`, [scheduled.id]);
    await waitFor(() => seen.length === 3, "the key's events");
    expect(seen).toEqual([other.id, scheduled.id, behind.id]);
  });
});
