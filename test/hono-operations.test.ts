// The router's operator routes, through app.request(): bulk retry, replay, pause, resume and the paused list.
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxRouter } from "../adapters/hono.ts";
import { type EventRecord, PermanentError, type Worker } from "../mod.ts";
import { type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

const TOKEN = "write-token";
const READ = "read-token";
let t: TestOutbox;
let app: Hono;
let worker: Worker;
let orders: EventRecord[];
let users: EventRecord[];
const calls = { audit: 0, mailer: 0 };
let mailerDown = true;

function post(path: string, body?: unknown, token = TOKEN): Promise<Response> {
  return Promise.resolve(app.request(`/outbox${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  }));
}

async function all(ids: string[], status: string): Promise<void> {
  await waitFor(async () => {
    for (const id of ids) if ((await t.outbox.getEvent(id))?.status !== status) return false;
    return true;
  }, `${ids.length} events ${status}`);
}

beforeAll(async () => {
  t = await testOutbox();
  app = new Hono().route("/outbox", outboxRouter(t.outbox, { auth: { token: TOKEN }, readAuth: { token: READ } }));
  t.outbox.register("*", () => void calls.audit++, { name: "audit" });
  t.outbox.register("*", () => {
    calls.mailer++;
    if (mailerDown) throw new PermanentError("SMTP refused");
  }, { name: "mailer" });
  worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
  await worker.start();
  orders = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "order.created", source: "shop", data: { i } })));
  users = await t.outbox.publishEvents(Array.from({ length: 2 }, (_, i) => ({ type: "user.created", source: "users", data: { i } })));
  await all([...orders, ...users].map((e) => e.id), "failed");
});
afterAll(async () => {
  await worker.stop();
  await t.drop();
});

describe("POST /retry", () => {
  it("counts with dryRun, then retries the filter's failed events", async () => {
    const dry = await post("/retry", { type: "order.*", dryRun: true });
    expect(dry.status).toBe(200);
    expect(await dry.json()).toEqual({ dryRun: true, events: 3 });
    const later = await post("/retry", { from: new Date(Date.now() + 60_000).toISOString(), dryRun: true });
    expect(await later.json()).toEqual({ dryRun: true, events: 0 });
    mailerDown = false;
    const res = await post("/retry", { type: "order.*", destination: "mailer" });
    expect(await res.json()).toEqual({ dryRun: false, events: 3 });
    await all(orders.map((e) => e.id), "published");
    for (const u of users) expect((await t.outbox.getEvent(u.id))?.status).toBe("failed");
    expect(calls.audit).toBe(5);
  });

  it("refuses bad bodies with 400 or 415, and without the write token with 401", async () => {
    const cases: Array<[Response, number, string, string | undefined]> = [
      [await post("/retry", { typo: 1 }), 400, "invalid_option", "typo"],
      [await post("/retry", { status: "published" }), 400, "invalid_option", "status"],
      [await post("/retry", { from: "yesterday" }), 400, "invalid_option", "from"],
      [await post("/retry", { dryRun: "yes" }), 400, "invalid_option", "dryRun"],
      [await post("/retry", "[1]"), 400, "invalid_request", "body"],
      [await post("/retry", "{"), 400, "invalid_json", "body"],
      [await post("/retry", {}, READ), 401, "unauthorized", undefined],
      [await Promise.resolve(app.request("/outbox/retry", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" }, body: "{}" })), 415, "unsupported_media_type", "content-type"],
    ];
    for (const [res, status, code, field] of cases) {
      const body = await res.json();
      expect({ status: res.status, code: body.error?.code, field: body.error?.field }).toEqual({ status, code, field });
    }
  });
});

describe("POST /replay", () => {
  it("sends finished events to the named destination only", async () => {
    const audit = calls.audit;
    const mailer = calls.mailer;
    expect(await (await post("/replay", { destination: "mailer", type: "order.*", dryRun: true })).json()).toEqual({ dryRun: true, destination: "mailer", events: 3 });
    const res = await post("/replay", { destination: "mailer", type: "order.*", status: "published" });
    expect(await res.json()).toEqual({ dryRun: false, destination: "mailer", events: 3 });
    await waitFor(() => calls.mailer === mailer + 3, "mailer sent the orders again");
    await all(orders.map((e) => e.id), "published");
    expect(calls.audit).toBe(audit);
  });

  it("needs a destination and a finished status", async () => {
    const none = await post("/replay", { type: "order.*" });
    expect(none.status).toBe(400);
    expect((await none.json()).error).toMatchObject({ code: "invalid_option", field: "destination" });
    const pending = await post("/replay", { destination: "mailer", status: "pending" });
    expect((await pending.json()).error).toMatchObject({ code: "invalid_option", field: "status" });
  });
});

describe("destinations: pause, resume, paused", () => {
  it("pauses and resumes with the write token; lists with the read token", async () => {
    const name = "crm sync/<1>";
    const path = `/destinations/${encodeURIComponent(name)}`;
    const paused = await post(`${path}/pause`);
    expect(paused.status).toBe(200);
    const body = await paused.json();
    expect(body).toMatchObject({ destination: name, paused: true });
    expect(Number.isNaN(Date.parse(body.pausedAt))).toBe(false);
    expect((await t.outbox.pausedDestinations()).map((d) => d.name)).toEqual([name]);

    const list = await app.request("/outbox/destinations/paused", { headers: { authorization: `Bearer ${READ}` } });
    expect(list.status).toBe(200);
    expect((await list.json()).paused).toEqual([{ name, pausedAt: body.pausedAt }]);
    expect((await post(`${path}/pause`, undefined, READ)).status).toBe(401);
    expect((await app.request("/outbox/destinations/paused")).status).toBe(401);

    expect(await (await post(`${path}/resume`)).json()).toEqual({ destination: name, resumed: true });
    expect(await (await post(`${path}/resume`)).json()).toEqual({ destination: name, resumed: false });
    expect((await t.outbox.pausedDestinations())).toEqual([]);
    const long = await post(`/destinations/${"x".repeat(1001)}/pause`);
    expect(long.status).toBe(400);
    // 1000 characters, but 3000 bytes: over what the destinations table's index can hold (PostgreSQL refused it: 500).
    const wide = Array.from({ length: 1000 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join("");
    for (const action of ["pause", "resume"]) {
      const res = await post(`/destinations/${encodeURIComponent(wide)}/${action}`);
      expect({ action, status: res.status, error: (await res.json()).error }).toMatchObject({ action, status: 400, error: { code: "invalid_option", field: "name" } });
    }
  });
});
