// The dashboard at the HTTP level (app.request): who gets in, which POSTs are accepted, and what read-only refuses.
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { PermanentError, type Worker } from "../mod.ts";
import { toQuery } from "../src/client.ts";
import { closeCircuit, openCircuit } from "../src/store/circuits.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

const TOKEN = "dashboard-token-1";
let t: TestOutbox;
let worker: Worker;
let broken = true;
let failedId = "";
/** The ids the billing handler was called with, once per attempt. */
const billed: string[] = [];

beforeAll(async () => {
  t = await testOutbox();
  t.outbox.register("order.*", (event) => {
    billed.push(event.id);
    if (broken) throw new PermanentError("billing said no");
  }, { name: "billing" });
  t.outbox.register("order.refunded", () => {
    if (broken) throw new PermanentError("the ledger said no");
  }, { name: "ledger" });
  worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
  await worker.start();
  const e = await t.outbox.publishEvent({ type: "order.created", source: "shop", data: { n: 1 } });
  failedId = e.id;
  await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "failed", "the event to fail");
});
afterAll(async () => {
  await worker.stop();
  await t.drop();
});

function mounted(options: Parameters<typeof outboxDashboard>[1]): Hono {
  const app = new Hono();
  app.route("/ops/outbox", outboxDashboard(t.outbox, options));
  return app;
}

const ORIGIN = "http://localhost";
const bearer = { authorization: `Bearer ${TOKEN}` };

/** A page's CSRF cookie and token, as a browser would get them. */
async function csrfOf(app: Hono, headers: Record<string, string> = bearer): Promise<{ cookie: string; token: string }> {
  const res = await app.request(`${ORIGIN}/ops/outbox/events`, { headers });
  const cookie = /pg_dispatch_csrf=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1];
  return { cookie: `pg_dispatch_csrf=${cookie}`, token: cookie };
}

function post(app: Hono, path: string, form: Record<string, string>, headers: Record<string, string>): Promise<Response> {
  return Promise.resolve(app.request(`${ORIGIN}/ops/outbox${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form).toString(),
  }));
}

describe("auth: no credentials, no page", () => {
  it("sends a browser to the login form (which brings it back), and shows no data", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    for (const path of ["", "/events", "/failures", "/destinations", `/event?id=${failedId}&source=shop`, "/retry"]) {
      const res = await app.request(`${ORIGIN}/ops/outbox${path}`);
      expect(res.status, path).toBe(303);
      expect(await res.text()).not.toContain("order.created");
      const login = new URL(res.headers.get("location")!, ORIGIN);
      expect(login.pathname).toBe("/ops/outbox/login");
      expect(login.searchParams.get("next")).toBe(`/ops/outbox${path}`);
      const form = await (await app.request(login.href)).text();
      expect(form).toContain('action="/ops/outbox/login"');
      expect(form).toContain(`value="/ops/outbox${path.replace("&", "&amp;")}"`);
      expect(form).not.toContain("order.created");
    }
    expect((await app.request(`${ORIGIN}/ops/outbox/events`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("signs in with the token: an HttpOnly, SameSite=Strict cookie scoped to the dashboard, Secure off localhost", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    for (const [origin, secure] of [[ORIGIN, false], ["https://ops.example.com", true]] as const) {
      const page = await app.request(`${origin}/ops/outbox`);
      const csrf = /pg_dispatch_csrf=([^;]+)/.exec(page.headers.get("set-cookie") ?? "")![1];
      const wrong = await app.request(`${origin}/ops/outbox/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pg_dispatch_csrf=${csrf}`, origin },
        body: new URLSearchParams({ csrf, token: "nope", next: "/ops/outbox/events" }).toString(),
      });
      expect(wrong.status).toBe(401);
      const res = await app.request(`${origin}/ops/outbox/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `pg_dispatch_csrf=${csrf}`, origin },
        body: new URLSearchParams({ csrf, token: TOKEN, next: "//evil.example/steal" }).toString(),
      });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/ops/outbox");
      const cookie = res.headers.get("set-cookie")!;
      expect(cookie).toMatch(/pg_dispatch_session=/);
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).toMatch(/Path=\/ops\/outbox/);
      expect(/Secure/.test(cookie)).toBe(secure);
      const session = /pg_dispatch_session=([^;]+)/.exec(cookie)![1];
      const ok = await app.request(`${origin}/ops/outbox/events`, { headers: { cookie: `pg_dispatch_session=${session}` } });
      expect(ok.status).toBe(200);
    }
  });

  it("signs in with a verifyToken function: what it refuses gets 401, what it accepts gets a session", async () => {
    const seen: string[] = [];
    const app = mounted({ auth: { verifyToken: (token) => (seen.push(token), token === "verified-token") } });
    expect((await app.request(`${ORIGIN}/ops/outbox/events`, { headers: { authorization: "Bearer forged" } })).status).toBe(401);
    const bearerOk = await app.request(`${ORIGIN}/ops/outbox/events`, { headers: { authorization: "Bearer verified-token" } });
    expect(bearerOk.status).toBe(200);
    const { cookie, token: csrf } = await csrfOf(app, { authorization: "Bearer verified-token" });
    const login = (token: string) =>
      post(app, "/login", { csrf, token, next: "/ops/outbox/failures" }, { cookie, origin: ORIGIN });
    expect((await login("forged")).status).toBe(401);
    const res = await login("verified-token");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/ops/outbox/failures");
    const session = /pg_dispatch_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")![1];
    const page = await app.request(`${ORIGIN}/ops/outbox/failures`, { headers: { cookie: `pg_dispatch_session=${session}` } });
    expect(page.status).toBe(200);
    expect(seen).toContain("forged");
  });

  it("runs a Hono middleware the caller gives (basic auth) and needs no login of its own", async () => {
    const app = mounted({ auth: basicAuth({ username: "ops", password: "pw" }) });
    expect((await app.request(`${ORIGIN}/ops/outbox/events`)).status).toBe(401);
    expect((await app.request(`${ORIGIN}/ops/outbox/events`, { headers: { authorization: `Basic ${btoa("ops:wrong")}` } })).status).toBe(401);
    const ok = await app.request(`${ORIGIN}/ops/outbox/events`, { headers: { authorization: `Basic ${btoa("ops:pw")}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("order.created");
  });

  it("refuses to be built without an auth option", () => {
    expect(() => outboxDashboard(t.outbox, {} as never)).toThrow(/needs an auth option/);
    expect(() => outboxDashboard(t.outbox, { auth: false, readOnly: "yes" } as never)).toThrow(/readOnly must be true or false/);
  });
});

describe("a trailing slash", () => {
  it("sends GET and HEAD to the page without it, as a path, and leaves other 404s alone", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    for (const [path, to] of [["/ops/outbox/", "/ops/outbox"], ["/ops/outbox//", "/ops/outbox"], ["/ops/outbox/failures/?x=%3Cb%3E", "/ops/outbox/failures?x=%3Cb%3E"]]) {
      for (const method of ["GET", "HEAD"]) {
        const res = await app.request(`https://ops.example.com${path}`, { method });
        expect([res.status, res.headers.get("location")], `${method} ${path}`).toEqual([301, to]);
      }
    }
    const followed = await app.request(`${ORIGIN}/ops/outbox/events`, { headers: bearer });
    expect(followed.status).toBe(200);
    expect((await app.request(`${ORIGIN}/ops/outbox/retry/`, { method: "POST", headers: bearer })).status).toBe(404);
    expect((await app.request(`${ORIGIN}/ops/outbox/nothing-here`)).status).toBe(404);

    // Mounted at the root, a path that would read as another site is not redirected to.
    const root = new Hono().route("/", outboxDashboard(t.outbox, { auth: { token: TOKEN } }));
    const evil = await root.request(`${ORIGIN}//evil.example/`);
    expect(evil.headers.get("location")).toBe(null);
    expect((await root.request(`${ORIGIN}/events/`)).headers.get("location")).toBe("/events");
  });
});

describe("every page: a CSP without inline script, no framing, no caching", () => {
  it("sends the headers", async () => {
    const res = await mounted({ auth: { token: TOKEN } }).request(`${ORIGIN}/ops/outbox`, { headers: bearer });
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("CSRF: every POST carries the form token and comes from this origin", () => {
  it("refuses a POST without the token, with a token that does not match, or from another origin", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    const { cookie, token } = await csrfOf(app);
    const form = { id: failedId, source: "shop", destination: "billing" };
    expect((await post(app, "/actions/retry", form, { ...bearer, cookie, origin: ORIGIN })).status).toBe(403);
    expect((await post(app, "/actions/retry", { ...form, csrf: "x".repeat(43) }, { ...bearer, cookie, origin: ORIGIN })).status).toBe(403);
    expect((await post(app, "/actions/retry", { ...form, csrf: token }, { ...bearer, cookie, origin: "https://evil.example" })).status).toBe(403);
    expect((await post(app, "/actions/retry", { ...form, csrf: token }, { ...bearer, cookie, "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await t.outbox.getEvent(failedId))?.status).toBe("failed");
  });

  it("accepts the dashboard's own form, and the retry happens", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    const { cookie, token } = await csrfOf(app);
    broken = false;
    const res = await post(app, "/actions/retry", { id: failedId, source: "shop", destination: "billing", csrf: token, back: `/ops/outbox/event?id=${failedId}&source=shop` }, {
      ...bearer, cookie, origin: ORIGIN,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/ops/outbox/event?id=${failedId}&source=shop&done=retried-delivery`);
    await waitFor(async () => (await t.outbox.getEvent(failedId))?.status === "published", "the retried event to be published");
  });
});

describe("retry an event: every failed delivery of it at once", () => {
  it("makes each failed delivery due again when the form names no destination", async () => {
    broken = true;
    const e = await t.outbox.publishEvent({ type: "order.refunded", source: "shop", data: { n: 3 } });
    const failed = await waitFor(async () => {
      const found = await t.outbox.getEvent(e.id);
      return found?.status === "failed" && found.deliveries.every((d) => d.status === "failed") ? found : null;
    }, "both deliveries to fail");
    expect(failed.deliveries.map((d) => d.name)).toEqual(["billing", "ledger"]);
    const app = mounted({ auth: { token: TOKEN } });
    const { cookie, token } = await csrfOf(app);
    broken = false;
    const back = `/ops/outbox/event?id=${e.id}&source=shop`;
    const res = await post(app, "/actions/retry", { id: e.id, source: "shop", csrf: token, back }, { ...bearer, cookie, origin: ORIGIN });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`${back}&done=retried`);
    const done = await waitFor(async () => {
      const found = await t.outbox.getEvent(e.id);
      return found?.status === "published" ? found : null;
    }, "the retried event to be published");
    expect(done.deliveries.map((d) => [d.name, d.status, d.attempts])).toEqual([["billing", "delivered", 2], ["ledger", "delivered", 2]]);
  });
});

describe("read-only: no actions shown, every action refused even when forged", () => {
  it("shows no retry buttons and refuses a well-formed POST", async () => {
    broken = true;
    const e = await t.outbox.publishEvent({ type: "order.created", source: "shop", data: { n: 2 } });
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "failed", "the event to fail");
    const app = mounted({ auth: { token: TOKEN }, readOnly: true });
    const html = await (await app.request(`${ORIGIN}/ops/outbox/event?id=${e.id}&source=shop`, { headers: bearer })).text();
    expect(html).toContain("billing said no");
    expect(html).not.toContain("/actions/retry");
    const list = await (await app.request(`${ORIGIN}/ops/outbox/events?status=failed`, { headers: bearer })).text();
    expect(list).not.toContain("bulk-retry");
    expect((await app.request(`${ORIGIN}/ops/outbox/retry?status=failed`, { headers: bearer })).status).toBe(403);
    const { cookie, token } = await csrfOf(app);
    for (const [path, form] of [["/actions/retry", { id: e.id, source: "shop" }], ["/actions/retry-events", { type: "order.*" }]] as const) {
      const res = await post(app, path, { ...form, csrf: token }, { ...bearer, cookie, origin: ORIGIN });
      expect(res.status, path).toBe(403);
    }
    expect((await t.outbox.getEvent(e.id))?.status).toBe("failed");
  });
});

describe("bulk retry: a preview count, then a confirmed POST", () => {
  it("counts, confirms, and retries the filtered set", async () => {
    broken = true;
    const batch = await t.outbox.publishEvents(Array.from({ length: 4 }, (_, i) => ({ type: "order.bulk", source: "bulk", data: { i } })));
    await waitFor(async () => (await t.outbox.getEvent(batch[3].id))?.status === "failed" && (await t.outbox.getEvent(batch[0].id))?.status === "failed", "the batch to fail");
    const app = mounted({ auth: { token: TOKEN } });
    const preview = await (await app.request(`${ORIGIN}/ops/outbox/retry?status=failed&source=bulk`, { headers: bearer })).text();
    expect(preview).toMatch(/<strong>4<\/strong> events due again/);
    broken = false;
    const { cookie, token } = await csrfOf(app);
    const res = await post(app, "/actions/retry-events", { source: "bulk", csrf: token }, { ...bearer, cookie, origin: ORIGIN });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toContain("done=bulk&n=4");
    await waitFor(async () => {
      for (const e of batch) if ((await t.outbox.getEvent(e.id, { source: "bulk" }))?.status !== "published") return false;
      return true;
    }, "the batch to be published");
  });
});

describe("replay: a preview count for a destination, then a confirmed POST", () => {
  it("links from the destinations page, counts the finished events, and replays them to that destination only", async () => {
    broken = false;
    const batch = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "order.replay", source: "replay", data: { i } })));
    await waitFor(async () => {
      for (const e of batch) if ((await t.outbox.getEvent(e.id, { source: "replay" }))?.status !== "published") return false;
      return true;
    }, "the batch to be published");
    const app = mounted({ auth: { token: TOKEN } });
    const destinations = await (await app.request(`${ORIGIN}/ops/outbox/destinations`, { headers: bearer })).text();
    expect(destinations).toContain('href="/ops/outbox/replay?destination=billing"');
    const preview = await (await app.request(`${ORIGIN}/ops/outbox/replay?destination=billing&source=replay`, { headers: bearer })).text();
    expect(preview).toMatch(/<strong>3<\/strong> finished events due again at <strong>billing<\/strong>/);
    expect(preview).toContain('id="confirm-replay"');
    const refused = await (await app.request(`${ORIGIN}/ops/outbox/replay?destination=billing&status=pending`, { headers: bearer })).text();
    expect(refused).toContain("Only finished events can be replayed");

    const { cookie, token } = await csrfOf(app);
    const form = { destination: "billing", source: "replay" };
    expect((await post(app, "/actions/replay", form, { ...bearer, cookie, origin: ORIGIN })).status, "no CSRF field").toBe(403);
    expect((await post(app, "/actions/replay", { ...form, status: "pending", csrf: token }, { ...bearer, cookie, origin: ORIGIN })).status).toBe(403);
    expect((await post(app, "/actions/replay", { source: "replay", csrf: token }, { ...bearer, cookie, origin: ORIGIN })).status, "no destination").toBe(403);
    const before = billed.length;
    const res = await post(app, "/actions/replay", { ...form, csrf: token }, { ...bearer, cookie, origin: ORIGIN });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/ops/outbox/destinations?done=replayed&n=3");
    await waitFor(() => billed.length >= before + 3, "the replayed deliveries");
    expect(billed.slice(before).sort()).toEqual(batch.map((e) => e.id).sort());
    const notice = await (await app.request(`${ORIGIN}${res.headers.get("location")}`, { headers: bearer })).text();
    expect(notice).toContain("3 events are due again at the destination");
  });

  it("the preview counts what the replay makes due: only the types the destination is registered for, and no count for a name not registered", async () => {
    broken = false;
    const mixed = await t.outbox.publishEvents([{ type: "order.mixed", source: "mixed" }, { type: "user.mixed", source: "mixed" }]);
    await waitFor(async () => {
      for (const e of mixed) if ((await t.outbox.getEvent(e.id, { source: "mixed" }))?.status !== "published") return false;
      return true;
    }, "both events to be published");
    const app = mounted({ auth: { token: TOKEN } });
    const preview = await (await app.request(`${ORIGIN}/ops/outbox/replay?destination=billing&source=mixed`, { headers: bearer })).text();
    expect(preview).toMatch(/<strong>1<\/strong> finished event due again at <strong>billing<\/strong>/);
    const unknown = await (await app.request(`${ORIGIN}/ops/outbox/replay?destination=bill&source=mixed`, { headers: bearer })).text();
    expect(unknown).toContain("No destination named &quot;bill&quot; is registered here");
    expect(unknown).not.toContain('id="confirm-replay"');
    const { cookie, token } = await csrfOf(app);
    const res = await post(app, "/actions/replay", { destination: "billing", source: "mixed", csrf: token }, { ...bearer, cookie, origin: ORIGIN });
    expect(res.headers.get("location")).toBe("/ops/outbox/destinations?done=replayed&n=1");
    await waitFor(async () => (await t.outbox.getEvent(mixed[0].id, { source: "mixed" }))?.status === "published", "the replayed order");
  });

  it("read-only: no replay link, the preview and the POST refused", async () => {
    const app = mounted({ auth: { token: TOKEN }, readOnly: true });
    const destinations = await (await app.request(`${ORIGIN}/ops/outbox/destinations`, { headers: bearer })).text();
    expect(destinations).toContain("billing");
    expect(destinations).not.toContain("/replay");
    expect((await app.request(`${ORIGIN}/ops/outbox/replay?destination=billing`, { headers: bearer })).status).toBe(403);
    const { cookie, token } = await csrfOf(app);
    const before = billed.length;
    const res = await post(app, "/actions/replay", { destination: "billing", csrf: token }, { ...bearer, cookie, origin: ORIGIN });
    expect(res.status).toBe(403);
    expect(billed.length).toBe(before);
  });
});

describe("destinations: a circuit a worker opened is shown, for every worker's dashboard", () => {
  it("marks the destination 'circuit open' with the time to its trial, and not once the circuit is closed", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    const query = toQuery(t.sql);
    const page = async () => await (await app.request(`${ORIGIN}/ops/outbox/destinations`, { headers: bearer })).text();
    await openCircuit(query, t.outbox.schema, "crm-sync", 30_000); // as the worker whose failures opened it records it
    const open = /<tr data-destination="crm-sync">.*?<\/tr>/s.exec(await page())?.[0] ?? "";
    expect(open).toContain(">circuit open</span>");
    expect(open).toMatch(/trial in (29|30) s/);
    await closeCircuit(query, t.outbox.schema, "crm-sync");
    expect(await page()).not.toContain("circuit open");
  });
});

describe("pages render from the database alone", () => {
  it("serves every page, and the assets without auth", async () => {
    const app = mounted({ auth: { token: TOKEN } });
    for (const path of ["", "/events", "/events?type=order.*&status=published", "/failures", "/destinations"]) {
      const res = await app.request(`${ORIGIN}/ops/outbox${path}`, { headers: bearer });
      expect(res.status, path).toBe(200);
    }
    const css = await app.request(`${ORIGIN}/ops/outbox/assets/dashboard.css`);
    expect(css.headers.get("content-type")).toMatch(/text\/css/);
    const js = await app.request(`${ORIGIN}/ops/outbox/assets/dashboard.js`);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
  });
});
