// The event catalog: typed publish and handlers (checked by compiling test/fixtures/catalog-types.ts), data validated
// at publish with Zod and Valibot (sync and async), dataschema filled in, and the catalog in the router's OpenAPI
// document and an AsyncAPI document.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hono } from "hono";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { outboxRouter } from "../adapters/hono.ts";
import { CloudEvent, defineEvents, DispatchError, Outbox } from "../mod.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const run = promisify(execFile);

const events = defineEvents({
  "user.created": z.object({ user_id: z.number(), plan: z.string().default("free") }),
  "order.placed": {
    schema: v.object({ items: v.array(v.object({ sku: v.string(), quantity: v.number() })) }),
    jsonSchema: { type: "object", required: ["items"], properties: { items: { type: "array" } } },
    description: "A customer placed an order.",
  },
  "coupon.redeemed": v.objectAsync({
    code: v.pipeAsync(v.string(), v.checkAsync(async (code) => code.startsWith("C-"), "Unknown coupon")),
  }),
}, { dataschema: "https://schemas.example.com/events/" });

let t: TestOutbox;
let outbox: ReturnType<typeof typedOutbox>;
function typedOutbox() {
  return new Outbox({ sql: t.sql, schema: t.schema, logger: t.outbox.logger, events });
}

beforeAll(async () => {
  t = await testOutbox();
  outbox = typedOutbox();
});
afterAll(async () => {
  await t.drop();
});

async function count(): Promise<number> {
  const [r] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`);
  return r.n;
}

async function refusal(publish: Promise<unknown>): Promise<DispatchError> {
  const err = await publish.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DispatchError);
  return err as DispatchError;
}

test("compile time: wrong data for a catalogued type does not compile, untyped use does (test/fixtures/catalog-types.ts)", async () => {
  // Each `@ts-expect-error` in the fixture fails the compile ("unused directive") the day its line compiles.
  const result = await run(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "-p", "test/fixtures/tsconfig.catalog.json"], { cwd: ROOT })
    .catch((e) => e);
  expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toBe("");
}, 60_000);

describe("publishing validates a catalogued type's data and stores nothing on failure", () => {
  test("valid data is stored as the schema's output, with the catalog's dataschema", async () => {
    const event = await outbox.publishEvent({ type: "user.created", source: "users", data: { user_id: 7 } });
    const stored = await outbox.getEvent(event.id);
    expect(stored?.data).toEqual({ user_id: 7, plan: "free" });
    expect(stored?.dataschema).toBe("https://schemas.example.com/events/user.created");
  });

  test("Zod: the error names the path and what was expected", async () => {
    const before = await count();
    const err = await refusal(outbox.publishEvent({ type: "user.created", source: "users", data: { user_id: "7" } } as never));
    expect(err.code).toBe("invalid_data");
    expect(err.field).toBe("data.user_id");
    expect(err.message).toMatch(/^Invalid data for "user\.created": data\.user_id: .*expected number/);
    expect(await count()).toBe(before);
  });

  test("Valibot: nested paths with array indexes, and missing data", async () => {
    const before = await count();
    const err = await refusal(outbox.publishEvent({
      type: "order.placed", source: "shop", data: { items: [{ sku: "a", quantity: 1 }, { sku: 2, quantity: 1 }] },
    } as never));
    expect(err.code).toBe("invalid_data");
    expect(err.field).toBe("data.items[1].sku");
    expect(err.message).toContain("data.items[1].sku: Invalid type: Expected string");
    const missing = await refusal(outbox.publishEvent({ type: "order.placed", source: "shop" } as never));
    expect(missing.field).toBe("data");
    expect(await count()).toBe(before);
  });

  test("an async validator is awaited", async () => {
    const before = await count();
    const err = await refusal(outbox.publishEvent({ type: "coupon.redeemed", source: "shop", data: { code: "X-1" } }));
    expect(err.message).toContain("data.code: Unknown coupon");
    expect(await count()).toBe(before);
    const ok = await outbox.publishEvent({ type: "coupon.redeemed", source: "shop", data: { code: "C-1" } });
    expect((await outbox.getEvent(ok.id))?.data).toEqual({ code: "C-1" });
  });

  test("a batch names the element, and stores none of it", async () => {
    const before = await count();
    const err = await refusal(outbox.publishEvents([
      { type: "user.created", source: "users", data: { user_id: 1 } },
      { type: "user.created", source: "users", data: { user_id: null } } as never,
    ]));
    expect(err.code).toBe("invalid_data");
    expect(err.field).toBe("[1].data.user_id");
    expect(err.message).toMatch(/^events\[1\]: Invalid data for "user\.created": data\.user_id/);
    expect(await count()).toBe(before);
    const ok = await outbox.publishEvents([
      { type: "user.created", source: "users", data: { user_id: 1 } },
      { type: "order.placed", source: "shop", data: { items: [] } },
    ]);
    expect((await outbox.getEvent(ok[0].id))?.data).toEqual({ user_id: 1, plan: "free" });
  });

  test("a CloudEvent of a catalogued type is validated too", async () => {
    const before = await count();
    const err = await refusal(outbox.publishCloudEvent(new CloudEvent({ type: "user.created", source: "users", data: { user_id: "x" } })));
    expect(err.field).toBe("data.user_id");
    expect(await count()).toBe(before);
    const ok = await outbox.publishCloudEvent(new CloudEvent({ type: "user.created", source: "users", data: { user_id: 3 }, subject: "3" }));
    expect(await outbox.getEvent(ok.id)).toMatchObject({
      data: { user_id: 3, plan: "free" }, subject: "3", dataschema: "https://schemas.example.com/events/user.created",
    });
  });

  test("types outside the catalog, and a publisher's own dataschema, pass as they are", async () => {
    const other = await outbox.publishEvent({ type: "audit.logged", source: "audit", data: { anything: true } });
    expect(await outbox.getEvent(other.id)).toMatchObject({ data: { anything: true }, dataschema: null });
    const own = await outbox.publishEvent({ type: "user.created", source: "users", data: { user_id: 1 }, dataschema: "https://example.com/v2" });
    expect((await outbox.getEvent(own.id))?.dataschema).toBe("https://example.com/v2");
  });

  test("the default dataschema is a URN naming the type; false leaves it unset", async () => {
    const schema = z.object({ n: z.number() });
    expect(defineEvents({ "a.b": schema }).dataschema("a.b")).toBe("urn:pg-dispatch:event:a.b");
    expect(defineEvents({ "a.b": schema }, { dataschema: false }).dataschema("a.b")).toBeUndefined();
  });
});

test("handlers receive the validated data", async () => {
  const seen: Array<{ user_id: number; plan: string }> = [];
  outbox.register("user.created", (event) => void seen.push(event.data), { name: "catalog-handler" });
  const worker = outbox.worker();
  await worker.start();
  try {
    await outbox.publishEvent({ type: "user.created", source: "handlers", data: { user_id: 42, plan: "pro" } });
    await waitFor(() => seen.some((d) => d.user_id === 42), "the handler to get the event");
    expect(seen.find((d) => d.user_id === 42)).toEqual({ user_id: 42, plan: "pro" });
  } finally {
    await worker.stop();
  }
});

describe("the catalog is refused when malformed", () => {
  test("entries must be Standard Schemas with exact types", () => {
    expect(() => defineEvents({ "a.b": { parse() {} } } as never)).toThrow(/must be a Standard Schema/);
    expect(() => defineEvents({ "order.*": z.object({}) })).toThrow(/no "\*"/);
    expect(() => defineEvents({ "a.b": { schema: z.object({}), jsonschema: {} } } as never)).toThrow(DispatchError);
    expect(() => new Outbox({ sql: t.sql, events: { "a.b": z.object({}) } as never })).toThrow(/defineEvents/);
  });
});

describe("the published contract", () => {
  test("the router's OpenAPI document holds each type's JSON Schema and a webhook per type; bad data answers 422", async () => {
    const app = new Hono().route("/outbox", outboxRouter(outbox, { auth: false }));
    const doc = await (await app.request("/outbox/openapi.json")).json();
    // Zod exports its own JSON Schema; the Valibot entry brought one.
    expect(doc.components.schemas["Data.user.created"]).toMatchObject({
      type: "object", properties: { user_id: { type: "number" }, plan: { type: "string" } }, required: ["user_id", "plan"],
    });
    expect(doc.components.schemas["Data.order.placed"]).toEqual({ type: "object", required: ["items"], properties: { items: { type: "array" } } });
    expect(doc.components.schemas["Data.coupon.redeemed"].description).toMatch(/no JSON Schema/);
    expect(Object.keys(doc.webhooks)).toEqual(["user.created", "order.placed", "coupon.redeemed"]);
    expect(doc.webhooks["order.placed"].post.summary).toBe("A customer placed an order.");
    const published = doc.webhooks["user.created"].post.requestBody.content["application/cloudevents+json"].schema.allOf[1].properties;
    expect(published).toEqual({
      type: { const: "user.created" },
      data: { $ref: "#/components/schemas/Data.user.created" },
      dataschema: { const: "https://schemas.example.com/events/user.created" },
    });

    const response = await app.request("/outbox/events", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "user.created", source: "http", data: { user_id: "1" } }),
    });
    expect(response.status).toBe(422);
    expect((await response.json()).error).toMatchObject({ code: "invalid_data", field: "data.user_id" });

    const plain = await (await new Hono().route("/o", outboxRouter(t.outbox, { auth: false })).request("/o/openapi.json")).json();
    expect(plain.webhooks).toBeUndefined();
  });

  test("an AsyncAPI 3 document: a channel, an operation and a message per type", () => {
    const doc = events.asyncApi({ title: "Shop events", version: "2.0.0" }) as Record<string, any>;
    expect(doc).toMatchObject({ asyncapi: "3.0.0", info: { title: "Shop events", version: "2.0.0" } });
    expect(doc.channels["user.created"]).toEqual({ address: "user.created", messages: { "user.created": { $ref: "#/components/messages/user.created" } } });
    expect(doc.operations["send.user.created"]).toEqual({
      action: "send",
      channel: { $ref: "#/channels/user.created" },
      messages: [{ $ref: "#/channels/user.created/messages/user.created" }],
    });
    const message = doc.components.messages["user.created"];
    expect(message.payload).toMatchObject({ type: "object", properties: { user_id: { type: "number" } } });
    expect(message.payload.$schema).toBeUndefined();
    expect(message.headers.properties.type).toEqual({ const: "user.created" });
    expect(doc.components.messages["order.placed"].summary).toBe("A customer placed an order.");
  });
});
