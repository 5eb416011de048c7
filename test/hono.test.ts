import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { CloudEvent, HTTP } from "cloudevents";
import { Hono } from "hono";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { outboxRouter, type OutboxRouterOptions } from "../adapters/hono.ts";
import { percentDecode } from "../adapters/webhook/binding.ts";
import { DeliveryError, DispatchError, Outbox, PermanentError } from "../mod.ts";
import { connect, type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

const TOKEN = "publish-token";
const READ_TOKEN = "read-token";
const auth = { authorization: `Bearer ${TOKEN}` };

let t: TestOutbox;
let app: Hono;

beforeAll(async () => {
  t = await testOutbox();
});
afterAll(async () => {
  await t.drop();
});
beforeEach(async () => {
  await t.sql.unsafe(`truncate "${t.schema}".events`);
  app = mounted(t.outbox, { auth: { token: TOKEN } });
});

/** The router mounted under /outbox, as a user would. */
function mounted(outbox: Outbox, options: OutboxRouterOptions): Hono {
  return new Hono().route("/outbox", outboxRouter(outbox, options));
}

function post(body: unknown, headers: Record<string, string> = {}, path = "/outbox/events"): Promise<Response> {
  return Promise.resolve(app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }));
}

function get(path: string, headers: Record<string, string> = auth): Promise<Response> {
  return Promise.resolve(app.request(path, { headers }));
}

async function count(): Promise<number> {
  const [{ n }] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`);
  return n as number;
}

/** Asserts a refusal: its status, its JSON error code and field, and that nothing was stored. */
async function refusal(res: Response, status: number, code: string, field?: string): Promise<string> {
  const body = await res.json();
  expect({ status: res.status, code: body.error?.code, field: body.error?.field }).toEqual({ status, code, field });
  expect(body.error.message).toMatch(/\.$/);
  expect(await count()).toBe(0);
  return body.error.message;
}

describe("construction: auth is required", () => {
  it("throws when auth is omitted, saying how to pass it or opt out", () => {
    expect(() => outboxRouter(t.outbox, {} as OutboxRouterOptions)).toThrow(/needs an auth option.*auth: false/);
    expect(() => outboxRouter(t.outbox, undefined as unknown as OutboxRouterOptions)).toThrow(DispatchError);
  });

  it("refuses tokens that could never match, unknown options and a missing outbox", () => {
    expect(() => outboxRouter(t.outbox, { auth: { token: "" } })).toThrow(/auth.token is empty: is the environment variable/);
    expect(() => outboxRouter(t.outbox, { auth: { token: process.env.PG_DISPATCH_UNSET_TOKEN! } })).toThrow(/^auth.token is undefined: is the environment variable it is read from set\?$/);
    expect(() => outboxRouter(t.outbox, { auth: { token: ["ok", undefined as never] } })).toThrow(/auth.token\[1\] is undefined/);
    expect(() => outboxRouter(t.outbox, { auth: { token: 42 as never } })).toThrow(/auth.token must be a non-empty string/);
    expect(() => outboxRouter(t.outbox, { auth: { token: [] } })).toThrow(/auth.token/);
    expect(() => outboxRouter(t.outbox, { auth: { token: "has space" } })).toThrow(/auth.token/);
    expect(() => outboxRouter(t.outbox, { auth: { token: "a" }, readAuth: {} as never })).toThrow(/readAuth takes exactly one/);
    expect(() => outboxRouter(t.outbox, { auth: { verifyToken: "yes" } as never })).toThrow(/verifyToken must be a function/);
    expect(() => outboxRouter(t.outbox, { auth: false, maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => outboxRouter(t.outbox, { auth: false, tokens: "x" } as never)).toThrow(/Unknown option "tokens"/);
    expect(() => outboxRouter(undefined as unknown as Outbox, { auth: false })).toThrow(/needs an Outbox/);
  });

  it("serves without authentication only when told auth: false", async () => {
    app = mounted(t.outbox, { auth: false });
    expect((await app.request("/outbox/stats")).status).toBe(200);
    const res = await app.request("/outbox/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "a", source: "s" }),
    });
    expect(res.status).toBe(201);
  });
});

describe("auth: bearer tokens, rotation, verify functions, middleware, read-only tokens", () => {
  it("answers 401 JSON without a token or with a wrong one, and stores nothing", async () => {
    let res = await app.request("/outbox/events", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await res.json()).error.code).toBe("unauthorized");
    res = await post({ type: "a", source: "s" }, { authorization: "Bearer wrong" });
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe("unauthorized");
    res = await post({ type: "a", source: "s" }, { authorization: "Basic abc" });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("invalid_request");
    expect((await get("/outbox/stats", {})).status).toBe(401);
    expect(await count()).toBe(0);
  });

  it("accepts every token of a rotation list", async () => {
    app = mounted(t.outbox, { auth: { token: ["new-token", "old-token"] } });
    for (const token of ["new-token", "old-token"]) {
      expect((await get("/outbox/stats", { authorization: `Bearer ${token}` })).status).toBe(200);
    }
    expect((await get("/outbox/stats", { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
  });

  it("calls verifyToken with the token and the context", async () => {
    const seen: string[] = [];
    app = mounted(t.outbox, {
      auth: {
        verifyToken(token, c) {
          seen.push(`${c.req.method} ${token}`);
          return token === "good";
        },
      },
    });
    expect((await get("/outbox/stats", { authorization: "Bearer good" })).status).toBe(200);
    expect((await get("/outbox/stats", { authorization: "Bearer bad" })).status).toBe(401);
    expect(seen).toEqual(["GET good", "GET bad"]);
  });

  it("runs any Hono middleware as the guard", async () => {
    app = mounted(t.outbox, {
      auth: async (c, next) => {
        if (c.req.header("x-api-key") !== "k") return c.json({ error: { code: "forbidden", message: "No key." } }, 403);
        await next();
      },
    });
    expect((await get("/outbox/stats", {})).status).toBe(403);
    expect((await get("/outbox/stats", { "x-api-key": "k" })).status).toBe(200);
  });

  it("guards reads and publishing separately: a read token cannot publish or retry", async () => {
    app = mounted(t.outbox, { auth: { token: TOKEN }, readAuth: { token: [READ_TOKEN, TOKEN] } });
    const reader = { authorization: `Bearer ${READ_TOKEN}` };
    const published = await post({ type: "a", source: "s", id: "1" });
    expect(published.status).toBe(201);
    for (const path of ["/outbox/events", "/outbox/events/1", "/outbox/stats", "/outbox/health", "/outbox/openapi.json"]) {
      expect([path, (await get(path, reader)).status]).toEqual([path, 200]);
      expect([path, (await get(path, auth)).status]).toEqual([path, 200]);
    }
    expect((await post({ type: "a", source: "s" }, reader)).status).toBe(401);
    expect((await post({}, reader, "/outbox/events/1/retry")).status).toBe(401);
    expect(await count()).toBe(1);
  });

  it("can leave reads open with readAuth: false while publishing stays guarded", async () => {
    app = mounted(t.outbox, { auth: { token: TOKEN }, readAuth: false });
    expect((await get("/outbox/stats", {})).status).toBe(200);
    expect((await post({ type: "a", source: "s" }, { authorization: "" })).status).toBe(401);
  });
});

describe("POST /events: plain JSON", () => {
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  it("stores the event and answers 201 with it (duplicate: false) and a Location that reads it back", async () => {
    const res = await post({
      type: "user.created",
      source: "user-service",
      data: { user_id: 123 },
      subject: "user/123",
      scheduledAt: tomorrow,
      maxRetries: 5,
      orderingKey: "user-123",
      extensions: { tenant: "acme", priority: 2 },
    });
    expect(res.status).toBe(201);
    const event = await res.json();
    expect(event).toMatchObject({
      type: "user.created",
      source: "user-service",
      data: { user_id: 123 },
      subject: "user/123",
      status: "pending",
      maxRetries: 5,
      orderingKey: "user-123",
      scheduledAt: tomorrow,
      extensions: { tenant: "acme", priority: 2 },
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    const { duplicate, ...stored } = event;
    expect(duplicate).toBe(false);
    const location = res.headers.get("location")!;
    expect(location).toBe(`/outbox/events/${event.id}?source=user-service`);
    const again = await get(location);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(stored);
  });

  it("answers 200 with the stored event (duplicate: true) for a repeated (source, id), storing one", async () => {
    const first = await post({ type: "a", source: "s", id: "same", data: { n: 1 } });
    expect(first.status).toBe(201);
    const stored = await first.json();
    expect(stored.duplicate).toBe(false);
    const second = await post({ type: "a", source: "s", id: "same", data: { n: 2 } });
    expect(second.status).toBe(200);
    expect(second.headers.get("location")).toBe("/outbox/events/same?source=s");
    expect(await second.json()).toEqual({ ...stored, duplicate: true });
    expect(await count()).toBe(1);
    // The same id from another source is another event.
    expect((await post({ type: "a", source: "other", id: "same" })).status).toBe(201);
  });

  it("publishes a JSON array as a batch and answers { events } in order: index, id, source, duplicate", async () => {
    const res = await post([{ type: "a", source: "s", id: "x", data: 1 }, { type: "b", source: "s", data: 2 }]);
    expect(res.status).toBe(201);
    const { events } = await res.json();
    expect(events).toEqual([
      { index: 0, id: "x", source: "s", duplicate: false },
      { index: 1, id: expect.any(String), source: "s", duplicate: false },
    ]);
    const stored = (await t.outbox.getEvent(events[1].id))!;
    expect([stored.type, stored.data]).toEqual(["b", 2]);
    expect(await count()).toBe(2);
  });

  it("refuses malformed bodies with 400 and stores nothing", async () => {
    await refusal(await post("{not json"), 400, "invalid_json", "body");
    await refusal(await post(""), 400, "invalid_json", "body");
    await refusal(await post('"a string"'), 400, "invalid_request", "body");
    await refusal(await post([{ type: "a", source: "s" }, 3]), 400, "invalid_request", "body");
    const latin1 = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]);
    const res = await app.request("/outbox/events", { method: "POST", headers: { "content-type": "application/json", ...auth }, body: latin1 });
    await refusal(res, 400, "invalid_json", "body");
  });

  it("refuses invalid events with 422 naming the field", async () => {
    await refusal(await post({ source: "s" }), 422, "invalid_event", "type");
    await refusal(await post({ type: "", source: "s" }), 422, "invalid_event", "type");
    await refusal(await post({ type: "a", source: "s", colour: "red" }), 422, "invalid_option", "colour");
    await refusal(await post({ type: "a", source: "s", id: "" }), 422, "invalid_event", "id");
    await refusal(await post({ type: "a", source: "s", id: 7 }), 422, "invalid_event", "id");
    await refusal(await post({ type: "a", source: "s", time: "yesterday" }), 422, "invalid_event", "time");
    await refusal(await post({ type: "a", source: "s", scheduledAt: "soon" }), 422, "invalid_option", "scheduledAt");
    await refusal(await post({ type: "a", source: "s", maxRetries: -1 }), 422, "invalid_option", "maxRetries");
    await refusal(await post({ type: "a", source: "s", orderingKey: "" }), 422, "invalid_option", "orderingKey");
    await refusal(await post({ type: "a", source: "s", extensions: { Bad: "x" } }), 422, "invalid_event", "extensions.Bad");
    await refusal(await post({ type: "a", source: "s", extensions: { ok: 1.5 } }), 422, "invalid_event", "extensions.ok");
    await refusal(await post({ type: "a", source: "s", extensions: { id: "x" } }), 422, "invalid_event", "extensions.id");
    // A batch with one bad event stores none of them, and the error names the element.
    const message = await refusal(await post([{ type: "a", source: "s" }, { type: "b" }]), 422, "invalid_event", "[1].source");
    expect(message).toMatch(/^events\[1\]: /);
    await refusal(await post([{ type: "a", source: "s", extensions: { Bad: "x" } }]), 422, "invalid_event", "[0].extensions.Bad");
  });

  it("refuses a wrong or missing content type with 415", async () => {
    await refusal(await post({ type: "a", source: "s" }, { "content-type": "text/plain" }), 415, "unsupported_media_type", "content-type");
    const res = await app.request("/outbox/events", { method: "POST", headers: auth, body: new Uint8Array([123, 125]) });
    const message = await refusal(res, 415, "unsupported_media_type", "content-type");
    expect(message).toMatch(/application\/json/);
  });

  it("refuses a body over maxBodyBytes with 413, and data over the outbox's limit with 413", async () => {
    app = mounted(t.outbox, { auth: { token: TOKEN }, maxBodyBytes: 100 });
    await refusal(await post({ type: "a", source: "s", data: "x".repeat(200) }), 413, "payload_too_large");
    // A streamed body without Content-Length is cut off at the limit too.
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(" ".repeat(50)));
        controller.close();
      },
    });
    const res = await app.request("/outbox/events", {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await refusal(res, 413, "payload_too_large");

    const small = await t.another({ maxPayloadBytes: 10 });
    app = mounted(small, { auth: { token: TOKEN } });
    const message = await refusal(await post({ type: "a", source: "s", data: "x".repeat(20) }), 413, "payload_too_large", "data");
    expect(message).toMatch(/maxPayloadBytes/);
  });
});

describe("POST /events: structured-mode CloudEvents", () => {
  const structured = { "content-type": "application/cloudevents+json; charset=utf-8" };

  it("stores attributes and extensions as sent", async () => {
    const res = await post(
      { specversion: "1.0", id: "ce-1", source: "/orders", type: "order.completed", subject: "Order #456", time: "2025-01-02T03:04:05.000Z", data: { total: 9 }, tenant: "acme", dataschema: null },
      structured,
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      id: "ce-1", source: "/orders", type: "order.completed", subject: "Order #456", time: "2025-01-02T03:04:05.000Z",
      data: { total: 9 }, extensions: { tenant: "acme" }, datacontenttype: "application/json", dataschema: null,
    });
    expect(res.headers.get("location")).toBe("/outbox/events/ce-1?source=%2Forders");
    expect((await post({ specversion: "1.0", id: "ce-1", source: "/orders", type: "order.completed" }, structured)).status).toBe(200);
  });

  it("refuses other spec versions, binary data and invalid attributes, naming the attribute", async () => {
    await refusal(await post({ specversion: "0.3", id: "1", source: "s", type: "a" }, structured), 422, "invalid_event", "specversion");
    await refusal(await post({ id: "1", source: "s", type: "a" }, structured), 422, "invalid_event", "specversion");
    await refusal(await post({ specversion: "1.0", id: "1", source: "s", type: "a", data_base64: "AAE=" }, structured), 422, "invalid_data", "data_base64");
    await refusal(await post({ specversion: "1.0", id: "", source: "s", type: "a" }, structured), 422, "invalid_event", "id");
    // Without an id the SDK would invent one, and every resend would be stored again.
    await refusal(await post({ specversion: "1.0", source: "s", type: "a" }, structured), 422, "invalid_event", "id");
    await refusal(await post({ specversion: "1.0", id: "1", source: "s", type: "a", BadName: "x" }, structured), 422, "invalid_event", "BadName");
    await refusal(await post([{ specversion: "1.0", id: "1", source: "s", type: "a" }], structured), 400, "invalid_request", "body");
  });
});

describe("POST /events: binary-mode CloudEvents", () => {
  function binary(headers: Record<string, string>, body?: string): Promise<Response> {
    return Promise.resolve(app.request("/outbox/events", { method: "POST", headers: { ...auth, ...headers }, body }));
  }
  const ce = { "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/orders", "ce-type": "order.completed" };

  it("reads percent-encoded ce-* headers and the JSON body as data", async () => {
    const res = await binary(
      { ...ce, "ce-subject": "Euro%20%E2%82%AC%20100%25", "ce-tenant": "acme", "content-type": "application/vnd.order+json" },
      '{"total":9}',
    );
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      id: "b-1", subject: "Euro € 100%", extensions: { tenant: "acme" }, data: { total: 9 }, datacontenttype: "application/vnd.order+json",
    });
  });

  it("unquotes a double-quoted header value first, as older senders send one, and refuses bytes that are not UTF-8", async () => {
    await refusal(await binary({ ...ce, "ce-id": "b-overlong", "ce-subject": "%C0%A0" }), 422, "invalid_event", "ce-subject");
    await refusal(await binary({ ...ce, "ce-id": "b-cut", "ce-tenant": "x%E2%82" }), 422, "invalid_event", "ce-tenant");
    const res = await binary({ ...ce, "ce-id": "b-quoted", "ce-subject": '"Order #456 \\"a\\" %25"' });
    expect(res.status).toBe(201);
    expect((await res.json()).subject).toBe('Order #456 "a" %');
  });

  it("stores an event without data when the body is empty", async () => {
    const res = await binary(ce);
    expect(res.status).toBe(201);
    expect((await res.json()).data).toBeUndefined();
  });

  it("refuses non-JSON data clearly, and invalid headers by name", async () => {
    const message = await refusal(await binary({ ...ce, "content-type": "text/plain" }, "hello"), 415, "unsupported_media_type", "content-type");
    expect(message).toMatch(/JSON data only/);
    await refusal(await binary({ ...ce, "content-type": "application/json" }, "{nope"), 400, "invalid_json", "body");
    await refusal(await binary({ ...ce, "ce-time": "yesterday" }), 422, "invalid_event", "ce-time");
    const { "ce-type": _, ...noType } = ce;
    await refusal(await binary(noType), 422, "invalid_event", "ce-type");
    const { "ce-id": __, ...noId } = ce;
    await refusal(await binary(noId), 422, "invalid_event", "ce-id");
    await refusal(await binary({ ...ce, "ce-specversion": "0.3" }), 422, "invalid_event", "ce-specversion");
  });

  it("decodes only well-formed %XX runs, as senders that do not encode send a bare %", () => {
    expect(percentDecode("a%20b")).toBe("a b");
    expect(percentDecode("100%")).toBe("100%");
    expect(percentDecode("a b%c\"")).toBe("a b%c\"");
    expect(percentDecode("%E2%82%AC")).toBe("€");
    expect(percentDecode("%E2%82")).toBe("%E2%82");
  });
});

describe("POST /events: CloudEvents batches, one transaction", () => {
  const batch = { "content-type": "application/cloudevents-batch+json" };
  const event = (id: string): Record<string, unknown> => ({ specversion: "1.0", id, source: "s", type: "a", data: { id } });

  it("stores every event and answers { events } in order, each saying whether it was a duplicate", async () => {
    const flags = async (res: Response): Promise<Array<[string, boolean]>> =>
      (await res.json()).events.map((e: { id: string; duplicate: boolean }) => [e.id, e.duplicate]);
    const res = await post([event("1"), event("2"), event("3")], batch);
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBeNull();
    expect(await flags(res)).toEqual([["1", false], ["2", false], ["3", false]]);
    const again = await post([event("1"), event("2")], batch);
    expect(again.status).toBe(200);
    expect(await flags(again)).toEqual([["1", true], ["2", true]]);
    // One new among existing ones is a creation.
    const mixed = await post([event("3"), event("4")], batch);
    expect(mixed.status).toBe(201);
    expect(await flags(mixed)).toEqual([["3", true], ["4", false]]);
    expect(await count()).toBe(4);
  });

  it("stores nothing when any event is invalid, naming its index and attribute", async () => {
    await refusal(await post([event("1"), { ...event("2"), specversion: "2.0" }], batch), 422, "invalid_event", "[1].specversion");
    await refusal(await post([event("1"), { ...event("2"), id: "" }], batch), 422, "invalid_event", "[1].id");
    const message = await refusal(await post([event("1"), { ...event("2"), type: "" }], batch), 422, "invalid_event", "[1].type");
    expect(message).toMatch(/^events\[1\]: /);
    await refusal(await post([event("1"), { ...event("2"), BadName: "x" }], batch), 422, "invalid_event", "[1].BadName");
    await refusal(await post({ events: [] }, batch), 400, "invalid_request", "body");
  });

  it("answers an empty batch with an empty list", async () => {
    const res = await post([], batch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ events: [] });
  });
});

describe("GET /events/:id", () => {
  it("answers 404 for an unknown id and 409 when several sources share it, until ?source= narrows it", async () => {
    await refusal(await get("/outbox/events/nope"), 404, "not_found", "id");
    await post({ type: "a", source: "one", id: "dup" });
    await post({ type: "a", source: "two", id: "dup" });
    const res = await get("/outbox/events/dup");
    expect(res.status).toBe(409);
    expect((await res.json()).error).toMatchObject({ code: "ambiguous_id", field: "source" });
    const narrowed = await get("/outbox/events/dup?source=two");
    expect(narrowed.status).toBe(200);
    expect((await narrowed.json()).source).toBe("two");
    expect((await get("/outbox/events/dup?source=three")).status).toBe(404);
    expect((await get("/outbox/events/dup?src=one")).status).toBe(400);
  });

  it("adds the attempt history with ?history=true, as getEvent(id, { history: true }) reads it", async () => {
    const ctx = await testOutbox({ retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 20 } });
    try {
      ctx.outbox.register("job.run", () => {
        throw new DeliveryError("HTTP 503 \u001b[2J busy", { status: 503 });
      }, { name: "runner" });
      app = mounted(ctx.outbox, { auth: { token: TOKEN } });
      const worker = ctx.outbox.worker({ retention: false });
      await worker.start();
      try {
        const { id } = await (await post({ type: "job.run", source: "s" })).json();
        await waitFor(async () => (await ctx.outbox.getEvent(id))?.status === "failed", "the delivery to fail");
      } finally {
        await worker.stop();
      }
      const [{ id }] = (await ctx.outbox.listEvents({})).events;
      const res = await get(`/outbox/events/${id}?history=true`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.history).toEqual(JSON.parse(JSON.stringify((await ctx.outbox.getEvent(id, { history: true }))!.history)));
      expect(body.history.map((a: { attempt: number; outcome: string; status: number; error: string }) => [a.attempt, a.outcome, a.status, a.error]))
        .toEqual([[1, "retry", 503, "HTTP 503 \u001b[2J busy"], [2, "failed", 503, "HTTP 503 \u001b[2J busy"]]);
      expect(body.history[0]).toMatchObject({ destination: "runner", startedAt: expect.any(String), durationMs: expect.any(Number) });
      expect((await (await get(`/outbox/events/${id}`)).json()).history).toBeUndefined();
      expect((await (await get(`/outbox/events/${id}?history=false`)).json()).history).toBeUndefined();
      for (const query of ["history=yes", "history=true&history=true"]) {
        const bad = await get(`/outbox/events/${id}?${query}`);
        expect(bad.status).toBe(400);
        expect((await bad.json()).error.field).toBe("history");
      }
    } finally {
      await ctx.drop();
    }
  });

  it("finds ids that need encoding in a path", async () => {
    await post({ type: "a", source: "s", id: "a/b c" });
    const res = await get(`/outbox/events/${encodeURIComponent("a/b c")}`);
    expect(res.status).toBe(200);
    expect((await res.json()).id).toBe("a/b c");
  });
});

describe("GET /events: filters and keyset pagination", () => {
  it("filters by status, type and source and pages with nextCursor", async () => {
    for (let i = 0; i < 5; i++) await post({ type: i % 2 ? "odd" : "even", source: "s", id: String(i) });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/outbox/events?type=even&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = await res.json();
      seen.push(...page.events.map((e: { id: string }) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["4", "2", "0"]);
    expect((await (await get("/outbox/events?status=failed")).json()).events).toEqual([]);
    expect((await (await get("/outbox/events?source=s&status=pending")).json()).events).toHaveLength(5);
    const prefixed = await (await get(`/outbox/events?type=${encodeURIComponent("ev*")}&source=s`)).json();
    expect(prefixed.events.map((e: { id: string }) => e.id)).toEqual(["4", "2", "0"]);
  });

  it("refuses a bad limit, cursor, status or parameter with 400 naming it", async () => {
    await refusal(await get("/outbox/events?limit=abc"), 400, "invalid_option", "limit");
    await refusal(await get("/outbox/events?limit=0"), 400, "invalid_option", "limit");
    await refusal(await get("/outbox/events?limit=5000"), 400, "invalid_option", "limit");
    await refusal(await get("/outbox/events?cursor=!!"), 400, "invalid_option", "cursor");
    await refusal(await get("/outbox/events?status=done"), 400, "invalid_option", "status");
    await refusal(await get("/outbox/events?stauts=failed"), 400, "invalid_request", "stauts");
    await refusal(await get("/outbox/events?type=a&type=b"), 400, "invalid_request", "type");
  });
});

describe("POST /events/:id/retry, GET /stats", () => {
  it("retries a failed delivery after a worker failed it, and the event is then delivered", async () => {
    const ctx = await testOutbox();
    try {
      let fail = true;
      ctx.outbox.register("job.run", () => {
        if (fail) throw new PermanentError("not yet");
      }, { name: "runner" });
      app = mounted(ctx.outbox, { auth: { token: TOKEN } });
      const worker = ctx.outbox.worker({ sweepIntervalMs: 1000 });
      await worker.start();
      try {
        const { id } = await (await post({ type: "job.run", source: "s" })).json();
        const failed = await waitFor(async () => {
          const e = await (await get(`/outbox/events/${id}`)).json();
          return e.status === "failed" ? e : null;
        }, "the delivery to fail");
        expect(failed.deliveries).toMatchObject([{ name: "runner", status: "failed", lastError: expect.stringContaining("not yet") }]);
        const stats = await (await get("/outbox/stats")).json();
        expect(stats).toMatchObject({ failed: 1, pending: 0, published: 0 });
        fail = false;
        const retried = await post("", {}, `/outbox/events/${id}/retry`);
        expect(retried.status).toBe(200);
        expect((await retried.json()).id).toBe(id);
        await waitFor(async () => (await (await get(`/outbox/events/${id}`)).json()).status === "published", "the retry to deliver");
        expect(await (await get("/outbox/stats")).json()).toMatchObject({ failed: 0, published: 1, oldestDueAgeMs: 0 });
      } finally {
        await worker.stop();
      }
    } finally {
      await ctx.drop();
    }
  });

  it("answers 404 when retrying an unknown event", async () => {
    await refusal(await post("", {}, "/outbox/events/nope/retry"), 404, "not_found", "id");
  });
});

describe("GET /health", () => {
  it("answers 200 when the database answers", async () => {
    const res = await get("/outbox/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("answers 503 without the driver's error when the database is unreachable", async () => {
    const warnings: unknown[] = [];
    const sql = connect({ host: "127.0.0.1", port: 1, connect_timeout: 2 });
    const logger = { debug() {}, info() {}, warn: (_m: string, f?: unknown) => warnings.push(f), error() {} };
    app = mounted(new Outbox({ sql, schema: t.schema, logger }), { auth: { token: TOKEN }, healthTimeoutMs: 3000 });
    const res = await get("/outbox/health");
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe("database_unreachable");
    expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    expect(warnings).toHaveLength(1);
    await sql.end({ timeout: 1 });
  });
});

describe("errors never leak SQL", () => {
  it("answers 500 with a generic message and logs the cause through outbox.logger", async () => {
    const errors: Array<{ message: string; fields: unknown }> = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: unknown) => errors.push({ message, fields }) };
    const unmigrated = new Outbox({ sql: t.sql, schema: "no_such_schema_here", logger });
    app = mounted(unmigrated, { auth: { token: TOKEN } });
    for (const res of [await get("/outbox/stats"), await post({ type: "a", source: "s" })]) {
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text).error.code).toBe("internal");
      expect(text).not.toMatch(/no_such_schema_here|relation|select|insert/i);
    }
    expect(errors).toHaveLength(2);
    expect(String((errors[0].fields as { error: Error }).error.message)).toMatch(/no_such_schema_here/);
  });
});

describe("GET /openapi.json", () => {
  it("describes every route the router serves, under the mount path", async () => {
    const res = await get("/outbox/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "/outbox" }]);
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`))
      .sort();
    const served = outboxRouter(t.outbox, { auth: false }).routes
      .filter((r) => r.method !== "ALL")
      .map((r) => `${r.method} ${r.path}`);
    expect(documented).toEqual([...new Set(served)].sort());
    expect(doc.paths["/events"].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/events/{id}"].get.parameters.map((p: { name: string }) => p.name)).toEqual(["id", "source", "history"]);
    expect(doc.components.schemas.Event.properties.history.items).toEqual({ $ref: "#/components/schemas/Attempt" });
    expect(doc.components.schemas.Attempt.required).toEqual(["destination", "attempt", "startedAt", "durationMs", "outcome"]);
    for (const op of Object.values(doc.paths).flatMap((ops) => Object.values(ops as object))) {
      for (const r of Object.values((op as { responses: object }).responses)) {
        const schema = (r as { content?: Record<string, { schema: { $ref?: string } }> }).content?.["application/json"]?.schema;
        if (schema?.$ref) expect(doc.components.schemas[schema.$ref.split("/").pop()!]).toBeDefined();
      }
    }
  });
});

describe("over real HTTP on Node (@hono/node-server), with the cloudevents SDK as an independent client", () => {
  let server: ReturnType<typeof serve>;
  let base: string;
  let ctx: TestOutbox;
  const delivered: unknown[] = [];

  beforeAll(async () => {
    ctx = await testOutbox();
    ctx.outbox.register("order.*", (event) => {
      delivered.push(event.data);
    }, { name: "orders" });
    const root = new Hono().route("/outbox", outboxRouter(ctx.outbox, { auth: { token: TOKEN } }));
    await new Promise<void>((resolve) => {
      server = serve({ fetch: root.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/outbox`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await ctx.drop();
  });

  for (const mode of ["binary", "structured"] as const) {
    it(`publishes a CloudEvent sent in ${mode} mode, and a worker delivers it`, async () => {
      const event = new CloudEvent({
        type: "order.completed",
        source: "/orders",
        subject: `Order #456 (${mode})`,
        data: { mode, total: 9.5 },
        tenant: "acme",
      });
      const message = mode === "binary" ? HTTP.binary(event) : HTTP.structured(event);
      const res = await fetch(`${base}/events`, {
        method: "POST",
        headers: { ...(message.headers as Record<string, string>), ...auth },
        body: message.body as string,
      });
      expect(res.status).toBe(201);
      const location = res.headers.get("location")!;
      expect(await res.json()).toMatchObject({ id: event.id, subject: event.subject, data: { mode }, extensions: { tenant: "acme" } });

      const worker = ctx.outbox.worker({ sweepIntervalMs: 1000 });
      await worker.start();
      try {
        const status = await waitFor(async () => {
          const e = await (await fetch(`${base}${location.slice("/outbox".length)}`, { headers: auth })).json();
          return e.status === "published" ? e : null;
        }, `the ${mode} event to be published`);
        expect(status.deliveries).toMatchObject([{ name: "orders", status: "delivered", attempts: 1 }]);
        expect(delivered).toContainEqual({ mode, total: 9.5 });
      } finally {
        await worker.stop();
      }

      // The SDK resending the same event (same id) stores nothing new.
      const again = await fetch(`${base}/events`, {
        method: "POST",
        headers: { ...(message.headers as Record<string, string>), ...auth },
        body: message.body as string,
      });
      expect(again.status).toBe(200);
      expect(await again.json()).toMatchObject({ id: event.id, status: "published", duplicate: true });
    });
  }

  it("refuses an oversized body over the wire with 413 and the health check answers", async () => {
    const big = await fetch(`${base}/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ type: "a", source: "s", data: "x".repeat(1_100_000) }),
    });
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe("payload_too_large");
    expect((await fetch(`${base}/health`, { headers: auth })).status).toBe(200);
  });
});
