// A new user's first mistakes, each answered once with an error that names the fix: no noise from migrate(), no worker
// that swallows events or logs the same stack forever, no raw PostgresError from publishing before migrate().
import { Hono } from "hono";
import postgres from "postgres";
import { afterAll, describe, expect, test } from "vitest";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { DispatchError, type Logger, Outbox } from "../mod.ts";
import { formatEvent } from "../src/cli/format.ts";
import { connect, databaseUrl, schemaName, waitFor } from "./support/db.ts";

const sql = connect();
const schemas: string[] = [];

function fresh(logger: Logger = { debug() {}, info() {}, warn() {}, error() {} }): Outbox {
  const schema = schemaName("first");
  schemas.push(schema);
  return new Outbox({ sql, schema, logger });
}

afterAll(async () => {
  for (const schema of schemas) await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end({ timeout: 1 });
});

test("migrate() raises no NOTICE, the first time or again (postgres.js prints notices to stdout by default)", async () => {
  const notices: unknown[] = [];
  const own = postgres(databaseUrl(), { max: 1, onnotice: (notice) => notices.push(notice) });
  try {
    const schema = schemaName("notice");
    schemas.push(schema);
    const outbox = new Outbox({ sql: own, schema });
    expect(await outbox.migrate()).not.toEqual([]);
    expect(await outbox.migrate()).toEqual([]);
    expect(notices).toEqual([]);
  } finally {
    await own.end({ timeout: 1 });
  }
});

describe("worker.start() refuses, once, what cannot work", () => {
  test("no destination registered", async () => {
    const outbox = fresh();
    await outbox.migrate();
    const worker = outbox.worker();
    const error = await worker.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DispatchError);
    expect(error).toMatchObject({ code: "no_destinations", message: expect.stringContaining("outbox.register(") });
    expect(worker.running).toBe(false);
  });

  test("before migrate(): one error naming the fix, nothing logged", async () => {
    const logged: string[] = [];
    const log = (message: string) => void logged.push(message);
    const outbox = fresh({ debug() {}, info() {}, warn: log, error: log });
    outbox.register("x", () => {});
    const worker = outbox.worker();
    const error = await worker.start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "not_migrated", message: expect.stringContaining("outbox.migrate()") });
    expect(worker.running).toBe(false);
    await worker.stop(); // nothing to stop, and no LISTEN connection left behind
    expect(logged).toEqual([]);
  });

  test("a destination whose start() throws (a missing client library, say)", async () => {
    const outbox = fresh();
    await outbox.migrate();
    let started = 0;
    outbox.register("x", {
      name: "needs-a-library",
      async start() {
        started++;
        throw new Error('Cannot find package "some-client"');
      },
      async deliver() {},
    });
    const error = await outbox.worker().start().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "destination_unavailable", message: 'Destination "needs-a-library" cannot start: Cannot find package "some-client"' });
    expect(started).toBe(1);
  });

  test("a renamed registration still starts its destination", async () => {
    const outbox = fresh();
    await outbox.migrate();
    const started: string[] = [];
    const destination = { name: "original", async start() { started.push(this.name); }, async deliver() {} };
    outbox.register("x", destination, { name: "renamed" });
    const worker = outbox.worker();
    await worker.start();
    await worker.stop();
    expect(started).toEqual(["original"]);
  });
});

describe("publishing or reading before migrate() names the fix instead of a raw 42P01", () => {
  test("publishEvent, publishEvents, with and without a transaction, and the reads", async () => {
    const outbox = fresh();
    const expected = { name: "DispatchError", code: "not_migrated", message: expect.stringContaining("outbox.migrate()") };
    await expect(outbox.publishEvent({ type: "x", source: "s" })).rejects.toMatchObject(expected);
    await expect(outbox.publishEvents([{ type: "x", source: "s" }])).rejects.toMatchObject(expected);
    await expect(sql.begin((tx) => outbox.publishEvent({ type: "x", source: "s" }, { tx }))).rejects.toMatchObject(expected);
    await expect(outbox.getEvent("x")).rejects.toMatchObject(expected);
    await expect(outbox.listEvents()).rejects.toMatchObject(expected);
    await expect(outbox.stats()).rejects.toMatchObject(expected);
    const error = await outbox.publishEvent({ type: "x", source: "s" }).catch((e: unknown) => e);
    expect((error as Error).cause).toMatchObject({ code: "42P01" });
  });
});

describe("an event of a type no destination is registered for (a typo, say) is said to have gone nowhere", () => {
  test("the worker marks it published with no deliveries; status and the dashboard say why, not 'not attempted yet'", async () => {
    const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
    const outbox = fresh({ debug() {}, info() {}, warn: (message, fields) => warnings.push({ message, fields }), error() {} });
    await outbox.migrate();
    outbox.register("user.created", () => {});
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    outbox.register("report.requested", () => held);
    const worker = outbox.worker();
    await worker.start();
    try {
      const typo = await outbox.publishEvent({ type: "user.craeted", source: "users", data: { user_id: 1 } });
      const waiting = await outbox.publishEvent({ type: "user.created", source: "users", scheduledAt: new Date(Date.now() + 3_600_000) });
      const e = await waitFor(async () => {
        const found = await outbox.getEvent(typo.id);
        return found?.status === "published" ? found : null;
      }, "the worker to take the event");
      expect(e.deliveries).toEqual([]);
      expect(e.attempts).toBe(0); // nothing was attempted, though a worker took it
      // The worker's log says so once per type, not once per event.
      const again = await outbox.publishEvent({ type: "user.craeted", source: "users", data: { user_id: 2 } });
      await waitFor(async () => (await outbox.getEvent(again.id))?.status === "published", "the worker to take the second event");
      const said = warnings.filter((w) => /no destination is registered/.test(w.message));
      expect(said).toEqual([{ message: expect.stringMatching(/marked published without being sent anywhere/), fields: { type: "user.craeted" } }]);
      const nowhere = /no destination registered for its type/;
      expect(formatEvent(e)).toMatch(nowhere);
      expect(formatEvent(e)).not.toMatch(/no worker has/i);
      // One not yet taken by a worker still says so, and one whose first attempt is in flight says that.
      expect(formatEvent((await outbox.getEvent(waiting.id))!)).toMatch(/No worker has attempted this event yet/);
      const slow = await outbox.publishEvent({ type: "report.requested", source: "reports" });
      const inFlight = await waitFor(async () => {
        const found = await outbox.getEvent(slow.id);
        return found?.status === "processing" ? found : null;
      }, "the worker to start the slow handler");
      expect(formatEvent(inFlight)).toMatch(/A worker is attempting this event now/);
      release();

      const app = new Hono().route("/ui", outboxDashboard(outbox, { auth: { token: "t" } }));
      const headers = { authorization: "Bearer t" };
      const page = await (await app.request(`http://localhost/ui/event?id=${typo.id}&source=users`, { headers })).text();
      expect(page).toMatch(nowhere);
      expect(page).not.toMatch(/No worker has attempted/);
      const list = await (await app.request("http://localhost/ui/events", { headers })).text();
      expect(list).toMatch(/no destination/);
    } finally {
      release();
      await worker.stop();
    }
  });
});

describe("the dashboard's sign-in over plain http:// elsewhere than localhost", () => {
  test("a sign-in whose Secure cookie the browser dropped says why, instead of 'reload the page' forever", async () => {
    const outbox = fresh();
    const app = new Hono().route("/ui", outboxDashboard(outbox, { auth: { token: "t" } }));
    const login = await app.request("http://203.0.113.7:3000/ui/login");
    const set = login.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/; Secure/); // so a browser on http://203.0.113.7 keeps no cookie: the POST comes back without it
    const csrf = /pg_dispatch_csrf=([^;]+)/.exec(set)![1];
    const res = await app.request("http://203.0.113.7:3000/ui/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://203.0.113.7:3000" },
      body: new URLSearchParams({ csrf, token: "t", next: "/ui" }).toString(),
    });
    expect(res.status).toBe(403);
    const page = await res.text();
    expect(page).toMatch(/HTTPS/);
    expect(page).toMatch(/localhost/);
    expect(page).not.toMatch(/Reload the page/);
    // On localhost the same missing cookie is the ordinary stale form.
    const local = await app.request("http://localhost:3000/ui/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost:3000" },
      body: new URLSearchParams({ csrf, token: "t", next: "/ui" }).toString(),
    });
    expect(await local.text()).toMatch(/Reload the page/);
  });
});

describe("register(type, handler) with a type that is not there (a misspelt constant, an unset variable)", () => {
  test("names the type as the problem, not the handler as an options object", () => {
    const outbox = fresh();
    const TYPES: Record<string, string> = { USER_CREATED: "user.created" };
    for (const type of [TYPES.USER_CRAETED, null, 42]) {
      const error = (() => {
        try {
          outbox.register(type as string, () => {});
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(DispatchError);
      expect(error).toMatchObject({ code: "invalid_option", message: expect.stringMatching(/^register\(type, handler\): the type is (undefined|null|a number)/) });
      expect((error as Error).message).not.toMatch(/options object/);
    }
    expect(outbox.destinations()).toEqual([]);
  });
});
