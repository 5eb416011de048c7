// The router's contract with its callers: Hono's typed client knows every route (checked by compiling
// test/fixtures/hono-client-types.ts), calls the real router through it, and every answer matches the OpenAPI
// document the router serves (test/support/json-schema.ts, with closed objects: a field the document does not list
// fails).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hono } from "hono";
import { hc } from "hono/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { outboxRouter, ROUTER_DEFAULTS } from "../adapters/hono.ts";
import { PermanentError } from "../mod.ts";
import { schemaErrors } from "./support/json-schema.ts";
import { type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const run = promisify(execFile);
const TOKEN = "client-token";

let t: TestOutbox;
let app: ReturnType<typeof mount>;
let doc: Record<string, unknown>;

function mount() {
  return new Hono().route("/outbox", outboxRouter(t.outbox, { auth: { token: TOKEN }, maxBatchEvents: 5 }));
}

/** The typed client over the real router: no network, the app's own fetch. */
function client() {
  return hc<typeof app>("http://localhost", {
    headers: { authorization: `Bearer ${TOKEN}` },
    fetch: (input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init)),
  });
}

beforeAll(async () => {
  t = await testOutbox();
  t.outbox.register("order.*", () => {}, { name: "audit" });
  t.outbox.register("order.*", () => {
    throw new PermanentError("the ledger refuses this order");
  }, { name: "ledger" });
  app = mount();
  doc = await (await client().outbox["openapi.json"].$get()).json();
});
afterAll(async () => {
  await t.drop();
});

/** Asserts that a real answer is what the document says `method path` answers with this status. */
async function conforms(res: Response, method: string, path: string): Promise<unknown> {
  const responses = ((doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>>)[path]?.[method])?.responses;
  expect(responses, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  const documented = responses![String(res.status)];
  expect(documented, `${method.toUpperCase()} ${path} documents status ${res.status}`).toBeDefined();
  const body = await res.clone().json();
  const schema = documented.content?.["application/json"]?.schema;
  expect(schema, `${method.toUpperCase()} ${path} ${res.status} has a JSON schema`).toBeDefined();
  expect(schemaErrors(doc, schema!, body, { closed: true })).toEqual([]);
  return body;
}

test("compile time: Hono's typed client knows every route, body and query (test/fixtures/hono-client-types.ts)", async () => {
  // Each `@ts-expect-error` in the fixture fails the compile ("unused directive") the day its line compiles, as it
  // would if the router's type degraded to a plain Hono.
  const result = await run(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "-p", "test/fixtures/tsconfig.hono-client.json"], { cwd: ROOT })
    .catch((e) => e);
  expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toBe("");
}, 60_000);

test("docs/router.md's options table quotes ROUTER_DEFAULTS", () => {
  const doc = readFileSync(join(ROOT, "docs", "router.md"), "utf8");
  for (const [name, value] of Object.entries(ROUTER_DEFAULTS)) expect(doc, name).toMatch(new RegExp(`^\\| \`${name}\` +\\| ${value} +\\|`, "m"));
});

describe("the schema check can fail", () => {
  test("a wrong type, a missing required field, an undocumented field and an unknown keyword are caught", () => {
    const event = (doc.components as { schemas: Record<string, Record<string, unknown>> }).schemas.Stats;
    const stats = { pending: 0, processing: 0, published: 0, failed: 0, oldestDueAgeMs: 0, estimated: false };
    expect(schemaErrors(doc, event, stats, { closed: true })).toEqual([]);
    expect(schemaErrors(doc, event, { ...stats, failed: "0" }, { closed: true })).toEqual(['$.failed: expected integer, got "0"']);
    const { estimated: _, ...missing } = stats;
    expect(schemaErrors(doc, event, missing, { closed: true })).toEqual(["$: missing estimated"]);
    expect(schemaErrors(doc, event, { ...stats, extra: 1 }, { closed: true })).toEqual(["$: extra is not in the document"]);
    expect(() => schemaErrors(doc, { type: "string", pattern: "x" }, "x")).toThrow(/pattern/);
  });
});

describe("the typed client calls the real router, and each answer matches the OpenAPI document", () => {
  test("publish one event, a batch, and a repeat; read, list, retry", async () => {
    const c = client().outbox;
    const created = await c.events.$post({ json: { type: "order.placed", source: "shop", id: "o-1", data: { total: 9 } } });
    expect(created.status).toBe(201);
    const event = await conforms(created, "post", "/events") as { id: string; duplicate: boolean };
    expect(event).toMatchObject({ id: "o-1", duplicate: false });

    const repeat = await c.events.$post({ json: { type: "order.placed", source: "shop", id: "o-1", data: { total: 9 } } });
    expect(repeat.status).toBe(200);
    expect(await conforms(repeat, "post", "/events")).toMatchObject({ duplicate: true });

    const batch = await c.events.$post({ json: [{ type: "order.placed", source: "shop", id: "o-2" }, { type: "user.created", source: "users" }] });
    expect(batch.status).toBe(201);
    expect(await conforms(batch, "post", "/events")).toMatchObject({ events: [{ index: 0, id: "o-2" }, { index: 1 }] });

    const worker = t.outbox.worker({ sweepIntervalMs: 1000 });
    await worker.start();
    try {
      await waitFor(async () => (await t.outbox.getEvent("o-1"))?.status === "failed", "o-1 delivered to audit and refused by the ledger");
    } finally {
      await worker.stop();
    }

    const read = await c.events[":id"].$get({ param: { id: "o-1" }, query: { history: "true" } });
    expect(read.status).toBe(200);
    await conforms(read, "get", "/events/{id}");
    const stored = await read.json();
    expect(stored.deliveries.map((d) => [d.name, d.status]).sort()).toEqual([["audit", "delivered"], ["ledger", "failed"]]);
    expect(stored.history?.map((a) => a.outcome).sort()).toEqual(["delivered", "failed"]);

    const page = await c.events.$get({ query: { limit: "2" } });
    await conforms(page, "get", "/events");
    expect((await page.json()).events).toHaveLength(2);
    await conforms(await c.events.$get({ query: { status: "failed", data: "false" } }), "get", "/events");

    const retried = await c.events[":id"].retry.$post({ param: { id: "o-1" }, query: { source: "shop" } });
    await conforms(retried, "post", "/events/{id}/retry");
    expect((await retried.json()).deliveries.find((d) => d.name === "ledger")?.status).toBe("pending");
  });

  test("operations: bulk retry, replay, pause and resume, the paused list", async () => {
    const c = client().outbox;
    const retry = await c.retry.$post({ json: { status: "failed", dryRun: true } });
    expect(retry.status).toBe(200);
    expect(await conforms(retry, "post", "/retry")).toMatchObject({ dryRun: true });
    const replay = await c.replay.$post({ json: { destination: "audit", status: "published", dryRun: true } });
    expect(await conforms(replay, "post", "/replay")).toMatchObject({ dryRun: true, destination: "audit" });

    const paused = await c.destinations[":name"].pause.$post({ param: { name: "audit" } });
    await conforms(paused, "post", "/destinations/{name}/pause");
    expect((await paused.json()).paused).toBe(true);
    const list = await c.destinations.paused.$get();
    await conforms(list, "get", "/destinations/paused");
    expect((await list.json()).paused.map((d) => d.name)).toEqual(["audit"]);
    const resumed = await c.destinations[":name"].resume.$post({ param: { name: "audit" } });
    await conforms(resumed, "post", "/destinations/{name}/resume");
    expect((await resumed.json()).resumed).toBe(true);
  });

  test("stats, health and metrics", async () => {
    const c = client().outbox;
    const stats = await c.stats.$get();
    await conforms(stats, "get", "/stats");
    expect((await stats.json()).estimated).toBe(false);
    const health = await c.health.$get();
    expect(health.status).toBe(200);
    await conforms(health, "get", "/health");
    const metrics = await c.metrics.$get();
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# (HELP|TYPE) /m);
  });

  test("refusals answer the documented Error shape: 400, 401, 404, 413, 415, 422", async () => {
    const c = client().outbox;
    await conforms(await c.events.$get({ query: { limit: "many" } }), "get", "/events");
    await conforms(await c.events[":id"].$get({ param: { id: "no-such-event" }, query: {} }), "get", "/events/{id}");
    const tooMany = Array.from({ length: 6 }, (_, i) => ({ type: "order.placed", source: "shop", id: `big-${i}` }));
    const over = await c.events.$post({ json: tooMany });
    expect(over.status).toBe(413);
    await conforms(over, "post", "/events");
    const invalid = await c.events.$post({ json: { type: "", source: "shop" } });
    expect(invalid.status).toBe(422);
    await conforms(invalid, "post", "/events");
    const untyped = await app.request("/outbox/events", { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "text/plain" }, body: "x" });
    expect(untyped.status).toBe(415);
    await conforms(untyped, "post", "/events");
    const anonymous = await hc<typeof app>("http://localhost", { fetch: (input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init)) })
      .outbox.stats.$get();
    expect(anonymous.status).toBe(401);
    await conforms(anonymous, "get", "/stats");
  });
});
