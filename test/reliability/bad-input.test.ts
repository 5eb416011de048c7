// Scenario 7, bad input at every door: the API and the Hono router refuse oversize payloads, invalid CloudEvent
// attributes, broken JSON, wrong content types and huge list limits with a clear error, and change nothing
// (row counts before and after). SQL-looking strings are data: stored verbatim, never executed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudEvent, DispatchError } from "../../mod.ts";
import { outboxRouter } from "../../adapters/hono.ts";
import { testOutbox, type TestOutbox } from "../support/db.ts";
import { summary } from "./support/check.ts";

const SQL = `x'); drop table events; select pg_sleep(5); --`;
/** The same, as the URI reference CloudEvents requires of `source`. */
const SQL_URI = "x');drop%20table%20events;select%20pg_sleep(5);--";
let refused = 0;

describe("guarantee 9: bad input is refused with a clear error and changes nothing", () => {
  let t: TestOutbox;
  const count = async (): Promise<number> => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`))[0].n;

  beforeAll(async () => {
    t = await testOutbox({ maxPayloadBytes: 1024 });
    await t.outbox.publishEvents(Array.from({ length: 1000 }, (_, i) => ({ type: "seed", source: "reliability", data: { i } })));
  });
  afterAll(async () => {
    summary("bad-input", { refused, rowsChangedByRefusals: 0 });
    await t?.drop();
  });

  async function refusedByApi(call: () => Promise<unknown>, code: string): Promise<void> {
    const before = await count();
    const err = await call().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).code).toBe(code);
    expect((err as DispatchError).message.length).toBeGreaterThan(20);
    expect(await count()).toBe(before);
    refused++;
  }

  it("API: oversize payloads, invalid attributes, bad options, huge limits", async () => {
    const big = { blob: "x".repeat(2000) };
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "s", data: big }), "payload_too_large");
    await refusedByApi(() => t.outbox.publishEvents([{ type: "a", source: "s" }, { type: "a", source: "s", data: big }]), "payload_too_large");
    await refusedByApi(() => t.outbox.publishEvent({ type: "", source: "s" }), "invalid_event");
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "" }), "invalid_event");
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "s", extensions: { "Bad-Name": "x" } }), "invalid_event");
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "s", data: { n: 1n } }), "invalid_data");
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "s", time: "yesterday" }), "invalid_event");
    await refusedByApi(() => t.outbox.publishEvent({ type: "a", source: "s", unknown: 1 } as never), "invalid_option");
    await refusedByApi(() => t.outbox.publishCloudEvent(new CloudEvent({ type: "a", source: "s", data: big })), "payload_too_large");
    await refusedByApi(() => t.outbox.listEvents({ limit: 1_000_000 }), "invalid_option");
    await refusedByApi(() => t.outbox.listEvents({ status: SQL as never }), "invalid_option");
    await refusedByApi(() => t.outbox.listEvents({ cursor: SQL }), "invalid_option");
  });

  it("API: SQL-looking strings in every field are stored verbatim and executed nowhere", async () => {
    const before = await count();
    const e = await t.outbox.publishEvent({ type: SQL, source: SQL_URI, id: SQL, subject: SQL, data: { [SQL]: SQL }, orderingKey: SQL, extensions: { sqlish: SQL } });
    expect(await count()).toBe(before + 1);
    const back = await t.outbox.getEvent(SQL, { source: SQL_URI });
    expect(back).toMatchObject({ type: SQL, source: SQL_URI, id: SQL, subject: SQL, data: { [SQL]: SQL }, orderingKey: SQL });
    expect(e.id).toBe(SQL);
    expect((await t.outbox.listEvents({ type: SQL })).events).toHaveLength(1);
    expect(await t.outbox.getEvent(`${SQL}-unknown`)).toBeNull();
    expect(await t.outbox.retryEvent("no-such-event")).toBeNull();
    expect(await count()).toBe(before + 1);
  });

  it("router: broken JSON, wrong content types, oversize bodies, invalid attributes, huge limits, unknown ids", async () => {
    const app = outboxRouter(t.outbox, { auth: { token: "secret" } });
    const auth = { authorization: "Bearer secret" };
    const cases: [string, RequestInit & { path?: string }][] = [
      ["broken JSON", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{\"type\": \"a\", " }],
      ["wrong content type", { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: "type=a" }],
      ["oversize", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ type: "a", source: "s", data: { blob: "x".repeat(5000) } }) }],
      ["invalid attributes", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ type: "", source: "s" }) }],
      ["structured, invalid", { method: "POST", headers: { ...auth, "content-type": "application/cloudevents+json" }, body: JSON.stringify({ specversion: "0.1", type: "a", source: "s", id: "1" }) }],
      ["array of junk", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "[1, 2, 3]" }],
      ["no auth", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "a", source: "s" }) }],
      ["huge limit", { method: "GET", headers: auth, path: "/events?limit=100000000" }],
      ["sql status", { method: "GET", headers: auth, path: `/events?status=${encodeURIComponent(SQL)}` }],
      ["unknown id", { method: "GET", headers: auth, path: "/events/no-such-event" }],
      ["retry unknown id", { method: "POST", headers: auth, path: "/events/no-such-event/retry" }],
    ];
    const seen: string[] = [];
    for (const [what, init] of cases) {
      const before = await count();
      const res = await app.request(init.path ?? "/events", init);
      const text = await res.text();
      seen.push(`${what}: ${res.status}`);
      expect(res.status, `${what}: ${text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${what}: ${text}`).toBeLessThan(500);
      expect(text.length, what).toBeGreaterThan(10);
      expect(await count(), what).toBe(before);
      refused++;
    }
    console.log(`[reliability] bad-input/router ${seen.join("; ")}`);
  });
});
