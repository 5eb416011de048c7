import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Retention } from "../src/retention.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox();
});
afterAll(async () => {
  await t.drop();
});

describe("status: getEvent, listEvents, stats", () => {
  it("lists newest first with filters and keyset pagination", async () => {
    const published = await t.outbox.publishEvents(Array.from({ length: 25 }, (_, i) => ({
      type: i % 2 ? "order.created" : "order.updated",
      source: i % 5 ? "orders" : "legacy",
      id: `list-${i}`,
    })));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.outbox.listEvents({ limit: 10, cursor });
      seen.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(published.map((e) => e.id).reverse());

    const created = await t.outbox.listEvents({ type: "order.created", limit: 100 });
    expect(created.events).toHaveLength(12);
    expect(created.nextCursor).toBeNull();
    const legacy = await t.outbox.listEvents({ source: "legacy", type: "order.updated" });
    expect(legacy.events.map((e) => e.id)).toEqual(["list-20", "list-10", "list-0"]);
    expect((await t.outbox.listEvents({ status: "failed" })).events).toEqual([]);

    // A type ending in * is a prefix, as registrations write it; a prefix page pages like any other.
    await t.outbox.publishEvents([{ type: "orderly.tidied", source: "orders", id: "list-prefix" }]);
    const prefixed: string[] = [];
    cursor = undefined;
    do {
      const page = await t.outbox.listEvents({ type: "order.*", limit: 7, cursor, data: false });
      prefixed.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(prefixed).toEqual(published.map((e) => e.id).reverse());
    expect((await t.outbox.listEvents({ type: "order*", limit: 100 })).events).toHaveLength(26);
    expect((await t.outbox.listEvents({ type: "*", limit: 100 })).events).toHaveLength(26);
    expect((await t.outbox.listEvents({ type: "order.up*", source: "legacy" })).events.map((e) => e.id)).toEqual(["list-20", "list-10", "list-0"]);
  });

  it("refuses bad list options with a clear error", async () => {
    await expect(t.outbox.listEvents({ status: "done" as never })).rejects.toThrow(/status must be one of/);
    await expect(t.outbox.listEvents({ limit: 100_000 })).rejects.toThrow(/limit must be a whole number from 1 to 1000/);
    await expect(t.outbox.listEvents({ cursor: "not-a-cursor!" })).rejects.toThrow(/cursor is not one this outbox returned/);
    await expect(t.outbox.listEvents({ cursor: btoa("1; drop table x") })).rejects.toThrow(/cursor/);
    await expect(t.outbox.listEvents({ sort: "asc" } as never)).rejects.toThrow(/Unknown option "sort"/);
    await expect(t.outbox.getEvent("")).rejects.toThrow(/needs an event id/);
    expect(await t.outbox.getEvent("'; drop table events; --")).toBeNull();
  });

  it("counts by status and reports how long the oldest due event has waited", async () => {
    const fresh = await testOutbox();
    try {
      await fresh.outbox.publishEvent({ type: "a", source: "s" });
      await fresh.sql.unsafe(`update "${fresh.schema}".events set next_attempt_at = now() - interval '90 seconds'`);
      await fresh.outbox.publishEvent({ type: "later", source: "s", scheduledAt: new Date(Date.now() + 3_600_000) });
      const stats = await fresh.outbox.stats();
      expect(stats).toMatchObject({ pending: 2, processing: 0, published: 0, failed: 0 });
      expect(stats.oldestDueAgeMs).toBeGreaterThanOrEqual(90_000);
      expect(stats.oldestDueAgeMs).toBeLessThan(120_000);

      fresh.outbox.register("a", () => {});
      const w = fresh.outbox.worker();
      await w.start();
      await waitFor(async () => (await fresh.outbox.stats()).published === 1, "the due event to be published");
      await w.stop();
      expect(await fresh.outbox.stats()).toMatchObject({ pending: 1, published: 1, oldestDueAgeMs: 0 });
    } finally {
      await fresh.drop();
    }
  });
});

describe("retention: old finished events are deleted in small batches; failed ones are kept longer", () => {
  it("deletes published events past their age, keeps failed ones until theirs, never touches unfinished ones", async () => {
    const r = await testOutbox();
    try {
      const q = (text: string) => r.sql.unsafe(text);
      const s = `"${r.schema}".events`;
      const events = await r.outbox.publishEvents(Array.from({ length: 12 }, (_, i) => ({ type: "x", source: "s", id: `r${i}` })));
      expect(events).toHaveLength(12);
      // r0-r4 published 2 days ago, r5-r6 published an hour ago, r7-r8 failed 10 days ago, r9 failed 40 days ago,
      // r10 pending from 40 days ago (still has work), r11 pending now.
      await q(`update ${s} set status = 'published', next_attempt_at = null, created_at = now() - interval '2 days', published_at = now() - interval '2 days' where id in ('r0','r1','r2','r3','r4')`);
      await q(`update ${s} set status = 'published', next_attempt_at = null, published_at = now() - interval '1 hour' where id in ('r5','r6')`);
      await q(`update ${s} set status = 'failed', next_attempt_at = null, created_at = now() - interval '10 days' where id in ('r7','r8')`);
      await q(`update ${s} set status = 'failed', next_attempt_at = null, created_at = now() - interval '40 days' where id = 'r9'`);
      await q(`update ${s} set created_at = now() - interval '40 days' where id = 'r10'`);
      const day = 86_400_000;
      const retention = new Retention({ query: (text, params) => r.sql.unsafe(text, params as never[]), schema: { name: r.schema, quoted: `"${r.schema}"`, channel: r.schema }, logger: r.outbox.logger }, { publishedMs: day, failedMs: 30 * day, batchSize: 2 });
      expect(await retention.sweep()).toBe(6);
      const left = (await q(`select id from ${s} order by id`)).map((row) => row.id);
      expect(left.sort()).toEqual(["r10", "r11", "r5", "r6", "r7", "r8"].sort());
    } finally {
      await r.drop();
    }
  });
});

describe("close: destinations release what they hold", () => {
  it("closes every destination once, and keeps going when one fails", async () => {
    const closed: string[] = [];
    const c = await testOutbox({ logger: { debug() {}, info() {}, warn: (m: string) => void closed.push(`warn:${m}`), error() {} } });
    try {
      c.outbox.register("a", { name: "first", deliver: async () => {}, close: async () => void closed.push("first") });
      c.outbox.register("b", { name: "broken", deliver: async () => {}, close: async () => { throw new Error("nope"); } });
      c.outbox.register("c", { name: "third", deliver: async () => {}, close: async () => void closed.push("third") });
      c.outbox.register("d", function plainHandler() {});
      await c.outbox.close();
      expect(closed).toEqual(["first", "warn:closing a destination failed", "third"]);
    } finally {
      await c.drop();
    }
  });
});
