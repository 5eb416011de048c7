// The dashboard's bounded reads: what they return on a table written directly in known states.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toQuery } from "../src/client.ts";
import { OutboxReader } from "../src/reader.ts";
import { seqAtTime } from "../src/store/seek-time.ts";
import { testOutbox, type TestOutbox } from "./support/db.ts";

let t: TestOutbox;
let reader: OutboxReader;
const HOUR = 3_600_000;
let now = 0;

beforeAll(async () => {
  t = await testOutbox();
  reader = new OutboxReader(t.outbox);
  // 3,000 events one minute apart, the newest now: the 5 newest waiting, 1 in 10 of the others failed (at billing),
  // the rest published. In the last hour: events 2941-2995, of which 5 failed.
  await t.sql.unsafe(`
    insert into "${t.schema}".events (id, source, type, status, deliveries, next_attempt_at, published_at, failed_at, created_at)
    select 'e' || g, 's', case when g % 2 = 0 then 'order.created' else 'user.created' end, st,
           case st when 'failed' then '{"billing": {"status": "failed", "attempts": 3, "lastError": "HTTP 503"}}'
                   when 'pending' then '{}' else '{"billing": {"status": "delivered", "attempts": 1}}' end::jsonb,
           case when st = 'pending' then now() end, case when st = 'published' then at end, case when st = 'failed' then at end, at
    from generate_series(1, 3000) g,
    lateral (select now() - (3000 - g) * interval '1 minute' as at) a,
    lateral (select case when g > 2995 then 'pending' when g % 10 = 0 then 'failed' else 'published' end as st) s`);
  now = Date.now();
});
afterAll(async () => {
  await t.drop();
});

describe("seqAtTime finds where a time begins by bisecting the primary key", () => {
  it("returns the first event stored at or after the time, one past the newest for the future, the first for the past", async () => {
    const q = toQuery(t.sql);
    const [{ min }] = await t.sql.unsafe(`select min(seq)::text as min from "${t.schema}".events`);
    const first = Number(min);
    // Event g (seq first + g - 1) was stored 3000 - g minutes ago.
    const g = 1000;
    const at = new Date(now - (3000 - g) * 60_000 - 30_000);
    expect(Number(await seqAtTime(q, t.outbox.schema, at))).toBe(first + g - 1);
    expect(Number(await seqAtTime(q, t.outbox.schema, new Date(now + HOUR)))).toBe(first + 3000);
    expect(Number(await seqAtTime(q, t.outbox.schema, new Date(now - 100 * HOUR)))).toBe(first);
  });
});

describe("the events search", () => {
  it("starts a time range where it ends, and returns its events newest first", async () => {
    const to = new Date(now - 40 * HOUR);
    const from = new Date(to.getTime() - HOUR);
    const page = await reader.search({ from, to });
    expect(page.events).toHaveLength(50);
    for (const e of page.events) {
      expect(e.createdAt.getTime()).toBeGreaterThanOrEqual(from.getTime());
      expect(e.createdAt.getTime()).toBeLessThan(to.getTime());
    }
    expect(page.events[0].createdAt.getTime()).toBeGreaterThan(to.getTime() - 2 * 60_000);
  });

  it("pages with the cursor and filters by prefix, destination and failure text", async () => {
    const one = await reader.search({ type: "order.*", status: "failed", destination: "billing", error: "HTTP 503" }, { limit: 20 });
    expect(one.events).toHaveLength(20);
    const two = await reader.search({ type: "order.*", status: "failed", destination: "billing", error: "HTTP 503" }, { limit: 20, cursor: one.next! });
    expect(Number(two.events[0].seq)).toBeLessThan(Number(one.events[19].seq));
    for (const e of [...one.events, ...two.events]) expect([e.type, e.status]).toEqual(["order.created", "failed"]);
  });
});

describe("counts, backlog, failures, health", () => {
  it("reads what the table holds", async () => {
    expect(await reader.counts()).toMatchObject({ pending: 5, processing: 0, failed: 299, published: 2696, total: 3000, estimated: false });
    const backlog = await reader.backlog();
    expect(backlog.destinations).toEqual([{ destination: "", waiting: 5, oldest: expect.any(Date) }]);
    const failures = await reader.failures();
    expect(failures.groups).toEqual([expect.objectContaining({ destination: "billing", error: "HTTP 503", count: 299 })]);
    const health = await reader.health();
    expect(health.destinations).toEqual([{ destination: "billing", delivered: 50, failed: 5 }]);
    const minutes = await reader.throughput();
    expect(minutes).toHaveLength(60);
    expect(minutes.reduce((n, m) => n + m.published + m.failed, 0)).toBe(55);
  });
});
