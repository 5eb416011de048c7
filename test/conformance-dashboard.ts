// The dashboard's part of the conformance scenario (test/conformance.ts): served by the runtime's own HTTP server, from
// an Outbox that registers no destination and runs no worker (everything it shows comes from the database), it sends
// a browser without a session to the login form, signs it in with a cookie, renders the pages and its assets, and
// takes a CSRF-checked POST (pause and resume a destination). Plain fetch, as a browser would send it.
import type { Sql } from "postgres";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { Outbox } from "../mod.ts";
import { serve } from "./support/runtime.ts";

/** How the scenario reports: a failed check throws with the message. */
export interface Checks {
  check(condition: unknown, message: string): asserts condition;
  same(actual: unknown, expected: unknown, what: string): void;
  step(message: string): void;
}

const TOKEN = "conformance-dashboard-token";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs the dashboard checks against `schema`, where `event` (id, source, type) is stored. */
export async function dashboardScenario(
  sql: Sql,
  schema: string,
  event: { id: string; source: string; type: string },
  t: Checks,
): Promise<void> {
  const bare = new Outbox({ sql, schema, logger: quiet });
  t.same(bare.destinations().length, 0, "destinations registered in the dashboard's process");
  const dashboard = outboxDashboard(bare, { auth: { token: TOKEN } });
  const server = await serve((request) => dashboard.fetch(request));
  try {
    const ui = server.url;
    const cookies = new Map<string, string>();
    const remember = (res: Response) => {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(";");
        const at = pair.indexOf("=");
        cookies.set(pair.slice(0, at), pair.slice(at + 1));
      }
    };
    const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const get = async (path: string) => {
      const res = await fetch(`${ui}${path}`, { headers: { cookie: cookie() }, redirect: "manual" });
      remember(res);
      return { status: res.status, location: res.headers.get("location"), type: res.headers.get("content-type") ?? "", csp: res.headers.get("content-security-policy") ?? "", text: await res.text() };
    };
    const post = async (path: string, form: Record<string, string>) => {
      const res = await fetch(`${ui}${path}`, {
        method: "POST",
        headers: { cookie: cookie(), origin: ui, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ ...form, csrf: cookies.get("pg_dispatch_csrf") ?? "" }),
        redirect: "manual",
      });
      await res.body?.cancel();
      remember(res);
      return { status: res.status, location: res.headers.get("location"), setCookie: res.headers.getSetCookie().join("\n") };
    };

    const stranger = await get("/events");
    t.same([stranger.status, stranger.location], [303, `/login?${new URLSearchParams({ next: "/events" })}`], "a page without a session");
    t.check(!stranger.text.includes(event.id), "the redirect to the login form shows an event");
    const form = await get("/login");
    t.same(form.status, 200, "GET /login");
    t.check(cookies.has("pg_dispatch_csrf"), "the login form set no CSRF cookie");
    const wrong = await post("/login", { token: "not-the-token", next: "/events" });
    t.same(wrong.status, 401, "POST /login with a wrong token");
    const signedIn = await post("/login", { token: TOKEN, next: "/events" });
    t.same([signedIn.status, signedIn.location], [303, "/events"], "POST /login with the token");
    t.check(/pg_dispatch_session=[^;]+;.*HttpOnly/i.test(signedIn.setCookie) && /SameSite=Strict/i.test(signedIn.setCookie), `the session cookie is not HttpOnly and SameSite=Strict: ${signedIn.setCookie}`);
    t.step("dashboard: a browser without a session is sent to the login form; the token signs it in (HttpOnly, SameSite=Strict cookie)");

    const pages: Array<[string, string]> = [
      ["/", "Overview"],
      [`/events?type=${encodeURIComponent(event.type)}`, event.id],
      [`/event?${new URLSearchParams({ id: event.id, source: event.source })}`, event.id],
      ["/failures", "Failures"],
      ["/destinations", "handler"],
    ];
    for (const [path, shows] of pages) {
      const page = await get(path);
      t.same(page.status, 200, `GET ${path}`);
      t.check(page.type.startsWith("text/html"), `GET ${path} answered ${page.type}`);
      t.check(page.text.includes(shows), `GET ${path} does not show ${JSON.stringify(shows)}`);
      t.check(page.csp.includes("script-src 'self'") && !page.csp.includes("unsafe-inline"), `GET ${path} CSP: ${page.csp}`);
    }
    for (const [path, type] of [["/assets/dashboard.js", "text/javascript"], ["/assets/dashboard.css", "text/css"]]) {
      const asset = await get(path);
      t.check(asset.status === 200 && asset.type.startsWith(type) && asset.text.length > 100, `GET ${path}: ${asset.status} ${asset.type}`);
    }
    t.step("dashboard: every page renders from the database in a process with no destination; it serves its own script and stylesheet");

    const forged = await fetch(`${ui}/actions/pause`, {
      method: "POST",
      headers: { cookie: cookie(), origin: ui, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ name: "webhook" }),
      redirect: "manual",
    });
    await forged.body?.cancel();
    t.same(forged.status, 403, "POST /actions/pause without the CSRF field");
    t.same(await bare.pausedDestinations(), [], "paused destinations after the refused POST");
    const paused = await post("/actions/pause", { name: "webhook" });
    t.same([paused.status, paused.location], [303, "/destinations?done=paused"], "POST /actions/pause");
    t.same((await bare.pausedDestinations()).map((d) => d.name), ["webhook"], "paused destinations");
    const resumed = await post("/actions/resume", { name: "webhook" });
    t.same(resumed.status, 303, "POST /actions/resume");
    t.same(await bare.pausedDestinations(), [], "paused destinations after the resume");
    t.step("dashboard: a POST without the CSRF field is refused; the dashboard's own form pauses and resumes a destination");
  } finally {
    await server.close();
  }
}
