// Scenario 7, hostile requests at the router's door: list pages that would carry gigabytes of data, batches of tens
// of thousands of events, and GET parameters PostgreSQL cannot compare (NUL, a lone surrogate, a cursor past bigint).
// Each is answered with a bounded page or a clear 4xx, never a 500, and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DispatchError, type EventRecord } from "../../mod.ts";
import { outboxRouter } from "../../adapters/hono.ts";
import { PAGE_DATA_BYTES } from "../../src/store/events.ts";
import { testOutbox, type TestOutbox } from "../support/db.ts";
import { summary } from "./support/check.ts";

const TOKEN = "secret";
const auth = { authorization: `Bearer ${TOKEN}` };
/** What the server logged as errors: a 500 logs one, so every case below checks this stays empty. */
const logged: unknown[] = [];
const logger = { debug() {}, info() {}, warn() {}, error: (...args: unknown[]) => logged.push(args) };

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox({ logger });
});
afterAll(async () => {
  await t?.drop();
});

const count = async (): Promise<number> => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`))[0].n;

/** Bytes of an event's data as the database stores it as text (what the page budget counts). */
async function storedBytes(events: EventRecord[]): Promise<number[]> {
  const rows = await t.sql.unsafe(
    `select id, coalesce(octet_length(data::text), 0)::int as n from "${t.schema}".events where id = any($1::text[])`,
    [events.map((e) => e.id)],
  );
  const size = new Map(rows.map((r) => [r.id as string, r.n as number]));
  return events.map((e) => size.get(e.id)!);
}

describe("GET /events stops a page at a byte budget of data, and its cursor continues with nothing lost or repeated", () => {
  const big = "x".repeat(1_000_000);
  let expected: string[] = [];

  beforeAll(async () => {
    // Oldest first: ten small events, then ten of about 1 MB each. Newest first, 4 big ones fill the 4 MiB budget.
    const small = await t.outbox.publishEvents(Array.from({ length: 10 }, (_, i) => ({ type: "page", source: "budget", data: { i } })));
    const bigs: EventRecord[] = [];
    for (let i = 0; i < 10; i++) bigs.push(await t.outbox.publishEvent({ type: "page", source: "budget", data: { blob: big, i } }));
    expected = [...small, ...bigs].map((e) => e.id).reverse();
  }, 60_000);

  it("pages through 20 events at limit=1000 in pages that each stop before the budget, through the router and the API", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const pages: EventRecord[][] = [];
    let cursor: string | null = null;
    do {
      const res = await app.request(`/events?type=page&limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { events: EventRecord[]; nextCursor: string | null };
      pages.push(page.events);
      cursor = page.nextCursor;
      expect(pages.length).toBeLessThan(10);
    } while (cursor);

    expect(pages.map((p) => p.length)).toEqual([4, 4, 12]);
    const seen = pages.flat().map((e) => e.id);
    expect(seen).toEqual(expected); // every event once, newest first
    for (const [i, page] of pages.entries()) {
      const sizes = await storedBytes(page);
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(PAGE_DATA_BYTES);
      // Stopped at the budget, not early: the next page's first event would not have fitted.
      if (i < pages.length - 1) expect(total + (await storedBytes([pages[i + 1][0]]))[0]).toBeGreaterThan(PAGE_DATA_BYTES);
    }
    expect(pages.flat().every((e) => e.data !== undefined)).toBe(true);

    // The API (and so the CLI) pages the same way.
    const first = await t.outbox.listEvents({ type: "page", limit: 1000 });
    expect(first.events.map((e) => e.id)).toEqual(expected.slice(0, 4));
    const second = await t.outbox.listEvents({ type: "page", limit: 1000, cursor: first.nextCursor! });
    expect(second.events.map((e) => e.id)).toEqual(expected.slice(4, 8));
  });

  it("?data=false lists without data, every event in one page", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const res = await app.request("/events?type=page&limit=1000&data=false", { headers: auth });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.length).toBeLessThan(50_000);
    const page = JSON.parse(text) as { events: Record<string, unknown>[]; nextCursor: string | null };
    expect(page.events.map((e) => e.id)).toEqual(expected);
    expect(page.events.filter((e) => "data" in e)).toEqual([]);
    expect(page.events[0]).toMatchObject({ type: "page", source: "budget", status: "pending" });
    expect(page.nextCursor).toBeNull();
    expect((await t.outbox.listEvents({ type: "page", data: false })).events[0].data).toBeUndefined();
    const bad = await app.request("/events?data=no", { headers: auth });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: "invalid_option", field: "data" });
  });

  it("a page holds at least one event, even one whose data alone is over the budget", async () => {
    const roomy = await t.another({ maxPayloadBytes: 6_000_000 });
    const huge = "y".repeat(PAGE_DATA_BYTES + 100_000);
    const a = await roomy.publishEvent({ type: "huge", source: "budget", data: huge });
    const b = await roomy.publishEvent({ type: "huge", source: "budget", data: huge });
    const first = await t.outbox.listEvents({ type: "huge" });
    expect(first.events.map((e) => e.id)).toEqual([b.id]);
    expect(first.nextCursor).not.toBeNull();
    const second = await t.outbox.listEvents({ type: "huge", cursor: first.nextCursor! });
    expect(second.events.map((e) => e.id)).toEqual([a.id]);
    expect(second.nextCursor).toBeNull();
    expect(logged).toEqual([]);
  });
});

describe("POST /events: a batch has at most maxBatchEvents events and is answered compactly", () => {
  it("refuses a batch over the limit with 413 and stores nothing; answers one within it with ids and flags", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const post = (body: unknown, type = "application/json") =>
      app.request("/events", { method: "POST", headers: { ...auth, "content-type": type }, body: JSON.stringify(body) });
    const tiny = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "b", source: "batch", id: `b-${i}` }));
    const before = await count();

    const over = await post(tiny(1001));
    expect(over.status).toBe(413);
    const error = (await over.json()).error;
    expect(error).toMatchObject({ code: "payload_too_large", field: "body" });
    expect(error.message).toMatch(/1001 events, more than the 1000 .*maxBatchEvents.*smaller batches\.$/);
    expect(await count()).toBe(before);

    const res = await post(tiny(1000));
    expect(res.status).toBe(201);
    const text = await res.text();
    const { events } = JSON.parse(text) as { events: Record<string, unknown>[] };
    expect(events).toHaveLength(1000);
    expect(events[7]).toEqual({ index: 7, id: "b-7", source: "batch", duplicate: false });
    expect(text.length).toBeLessThan(1000 * 70); // not the full records (about 400 bytes each)
    expect(await count()).toBe(before + 1000);
    const again = await post(tiny(2));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ events: [{ index: 0, id: "b-0", source: "batch", duplicate: true }, { index: 1, id: "b-1", source: "batch", duplicate: true }] });

    // The option, and CloudEvents batches too.
    const strict = outboxRouter(t.outbox, { auth: { token: TOKEN }, maxBatchEvents: 2 });
    const ce = (id: string) => ({ specversion: "1.0", id, source: "batch", type: "b" });
    const three = await strict.request("/events", {
      method: "POST",
      headers: { ...auth, "content-type": "application/cloudevents-batch+json" },
      body: JSON.stringify([ce("c1"), ce("c2"), ce("c3")]),
    });
    expect(three.status).toBe(413);
    expect((await three.json()).error.message).toMatch(/3 events, more than the 2 /);
    expect(await count()).toBe(before + 1000);
    expect(() => outboxRouter(t.outbox, { auth: false, maxBatchEvents: 0 })).toThrow(DispatchError);
    expect(logged).toEqual([]);
  });
});

describe("POST /events: an attribute named like an Object.prototype member is refused by name, not dropped", () => {
  it("answers 422 for __proto__ in a structured event, a batch and a binary-mode header, and stores nothing", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const post = (body: string, headers: Record<string, string>) =>
      app.request("/events", { method: "POST", headers: { ...auth, ...headers }, body });
    const ce = '"specversion":"1.0","type":"t","source":"proto"';
    // Raw JSON text: an object literal with __proto__ would set the prototype instead of carrying the attribute.
    const cases: [string, string, Record<string, string>, string][] = [
      ["structured, object value", `{${ce},"id":"p1","__proto__":{"admin":true}}`, { "content-type": "application/cloudevents+json" }, "__proto__"],
      ["structured, string value", `{${ce},"id":"p2","__proto__":"x"}`, { "content-type": "application/cloudevents+json" }, "__proto__"],
      ["batch", `[{${ce},"id":"p3","__proto__":"x"}]`, { "content-type": "application/cloudevents-batch+json" }, "[0].__proto__"],
      ["binary", "{}", { "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "p4", "ce-type": "t", "ce-source": "proto", "ce-__proto__": "x" }, "ce-__proto__"],
    ];
    const before = await count();
    for (const [what, body, headers, field] of cases) {
      const res = await post(body, headers);
      const error = (await res.json()).error;
      expect({ what, status: res.status, code: error?.code, field: error?.field }).toEqual({ what, status: 422, code: "invalid_event", field });
      expect(error.message).toMatch(/[Ee]xtension (name )?"__proto__" must be/);
    }
    expect(await count()).toBe(before);
    expect(logged).toEqual([]);
  });
});

describe("POST /events: NUL and lone surrogates PostgreSQL cannot store are refused, not answered as duplicates", () => {
  it("answers 422 for each in the id, the source, the type, the subject and the data, stores nothing, and sends no Location", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const structured = { "content-type": "application/cloudevents+json" };
    // Raw JSON text: the escapes reach the server as JSON would carry them from any client.
    const attributes = (over: string) => `{"specversion":"1.0","type":"t","source":"hostile","id":"h1",${over}}`;
    const cases: [string, string][] = [];
    for (const [name, bad] of [["NUL", "\\u0000"], ["lone surrogate", "\\ud800"]]) {
      cases.push([`${name} in the id`, attributes(`"id":"h${bad}"`)]);
      cases.push([`${name} in the source`, attributes(`"source":"s${bad}"`)]);
      cases.push([`${name} in the type`, attributes(`"type":"t${bad}"`)]);
      cases.push([`${name} in the subject`, attributes(`"subject":"x${bad}"`)]);
      cases.push([`${name} in the data`, attributes(`"data":{"note":"x${bad}"}`)]);
      cases.push([`${name} in a batch`, `[${attributes(`"data":"x${bad}"`)}]`]);
    }
    const before = await count();
    for (const [what, body] of cases) {
      const headers = { ...auth, ...(body.startsWith("[") ? { "content-type": "application/cloudevents-batch+json" } : structured) };
      const res = await app.request("/events", { method: "POST", headers, body });
      const answer = await res.json();
      expect({ what, status: res.status, location: res.headers.get("location") }).toEqual({ what, status: 422, location: null });
      expect(answer.error?.message, what).toMatch(/NUL|surrogate|well-formed|UTF|URI-reference/i);
      expect(answer.duplicate, what).toBeUndefined();
    }
    expect(await count()).toBe(before);
    expect(logged).toEqual([]);
  });
});

describe("GET parameters PostgreSQL cannot compare answer 400 naming the parameter, never 500", () => {
  const beyondBigint = btoa("9999999999999999999").replace(/=+$/, "");

  it("router: NUL in the id, source, type and cursor, and a cursor past bigint", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: TOKEN } });
    const cases: [string, string, string][] = [
      ["GET", "/events/a%00b", "id"],
      ["GET", "/events/a?source=s%00", "source"],
      ["POST", "/events/a%00b/retry", "id"],
      ["POST", "/events/a/retry?source=%00", "source"],
      ["GET", "/events?type=%00", "type"],
      ["GET", "/events?source=x%00y", "source"],
      ["GET", `/events?cursor=${beyondBigint}`, "cursor"],
      ["GET", "/events?cursor=%00", "cursor"],
      ["GET", "/events?status=%00", "status"],
      ["GET", "/events?limit=%00", "limit"],
    ];
    const before = await count();
    for (const [method, path, field] of cases) {
      const res = await app.request(path, { method, headers: auth });
      const body = await res.json();
      expect({ path, status: res.status, code: body.error?.code, field: body.error?.field }).toEqual({ path, status: 400, code: "invalid_option", field });
      expect(body.error.message).toMatch(/\.$/);
    }
    expect(await count()).toBe(before);
    expect(logged).toEqual([]);
    summary("bad-input/router-params", { requests: cases.length, status400: cases.length, status500: 0 });
  });

  it("API: NUL and lone surrogates in ids and filters are refused as invalid_option", async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ["getEvent id", () => t.outbox.getEvent("\uD800")],
      ["getEvent source", () => t.outbox.getEvent("a", { source: "x\uDC00" })],
      ["getEvent NUL", () => t.outbox.getEvent("a\u0000")],
      ["retryEvent id", () => t.outbox.retryEvent("\uD800x")],
      ["listEvents type", () => t.outbox.listEvents({ type: "\uD83D" })],
      ["listEvents source", () => t.outbox.listEvents({ source: "a\u0000" })],
      ["listEvents cursor", () => t.outbox.listEvents({ cursor: beyondBigint })],
      ["listEvents data", () => t.outbox.listEvents({ data: "no" as never })],
    ];
    for (const [what, call] of calls) {
      const err = await call().then(() => null, (e: unknown) => e);
      expect(err, what).toBeInstanceOf(DispatchError);
      expect((err as DispatchError).code, what).toBe("invalid_option");
    }
  });
});
