/**
 * A web dashboard for an outbox: what is waiting, what failed and why, every event and each of its deliveries, and
 * the retry buttons to fix it. A Hono app (so also a plain fetch handler) that serves its own HTML, CSS and script:
 * no bundler, no CDN, no build step. It reads everything from the database, so it can run in a process that
 * registers no destinations. Mount it in any Hono app on Deno, Bun or Node.
 *
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { DispatchError } from "../src/errors.ts";
import type { Outbox } from "../src/outbox.ts";
import { OutboxReader, READ_BOUNDS } from "../src/reader.ts";
import { assertKnownKeys, optionsObject } from "../src/options.ts";
import { CSS, FAVICON, JS } from "./dashboard/assets.ts";
import { type Html, html } from "./dashboard/html.ts";
import type { PageContext } from "./dashboard/layout.ts";
import { accepts, csrfProblem, csrfToken, endSession, securityHeaders, signedIn, startSession, trailingSlash } from "./dashboard/session.ts";
import { formOf, replayRequest, text, withoutStatus } from "./dashboard/requests.ts";
import { eventPath, filterFromQuery, filterQuery, home, safeReturn } from "./dashboard/urls.ts";
import { destinationsPage } from "./dashboard/views/destinations.ts";
import { eventPage } from "./dashboard/views/event.ts";
import { eventsPage } from "./dashboard/views/events.ts";
import { failuresPage } from "./dashboard/views/failures.ts";
import { loginPage, problemPage } from "./dashboard/views/login.ts";
import { overviewPage } from "./dashboard/views/overview.ts";
import { replayConfirmPage } from "./dashboard/views/replay.ts";
import { retryConfirmPage } from "./dashboard/views/retry.ts";
import { checkAuth, type RouterAuth } from "./hono/auth.ts";

export type { RouterAuth } from "./hono/auth.ts";

/** Options of {@link outboxDashboard}. */
export interface OutboxDashboardOptions {
  /**
   * Required. `{ token }` (one, or several to rotate them) or `{ verifyToken(token, c) }`: browsers sign in on the
   * dashboard's login form and get an HttpOnly, SameSite=Strict, Secure cookie (scripts may send
   * `Authorization: Bearer <token>`); any Hono middleware (basic auth, your SSO session), which then decides alone;
   * or an explicit `false` (only behind a gateway that authenticates for you).
   */
  auth: RouterAuth;
  /** Show no retry buttons, and refuse every action, even a hand-made POST. Default false. */
  readOnly?: boolean;
}

/** The most a form may send: a filter with a 2,000-character error text fits many times over. */
const MAX_FORM_BYTES = 64 * 1024;

/**
 * The dashboard as a Hono app. Pages, relative to where you mount it: `/` (overview), `/events` (filters in the
 * URL), `/event?id=&source=`, `/failures`, `/destinations`, `/retry?<filter>` (confirm a bulk retry),
 * `/replay?destination=&<filter>` (confirm a replay); actions are POSTs to `/actions/retry`, `/actions/retry-events`,
 * `/actions/replay`, `/actions/pause` and `/actions/resume`, each checked for the CSRF token and refused when read-only.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { outboxDashboard } from "pg-dispatch/dashboard";
 *
 * const app = new Hono();
 * app.route("/outbox/ui", outboxDashboard(outbox, { auth: { token: process.env.DASHBOARD_TOKEN! }, readOnly: false }));
 * ```
 */
export function outboxDashboard(outbox: Outbox, options: OutboxDashboardOptions): Hono {
  if (!outbox || typeof (outbox as Partial<Outbox>).retryEvents !== "function") {
    throw new DispatchError("invalid_option", "outboxDashboard(outbox, options) needs an Outbox as its first argument.");
  }
  const o = optionsObject(options, "outboxDashboard");
  assertKnownKeys(o, ["auth", "readOnly"], "outboxDashboard options");
  if (!("auth" in o)) {
    throw new DispatchError(
      "invalid_option",
      "outboxDashboard needs an auth option: { token: \"...\" }, { verifyToken(token, c) }, a Hono middleware, or auth: false to serve without authentication.",
    );
  }
  if (o.readOnly !== undefined && typeof o.readOnly !== "boolean") {
    throw new DispatchError("invalid_option", "readOnly must be true or false.", { field: "readOnly" });
  }
  const auth = checkAuth(o.auth, "auth", "outboxDashboard");
  const readOnly = o.readOnly === true;
  const reader = new OutboxReader(outbox);
  // The caller's own middleware guards every page and action (not the stylesheet and script, which hold no data).
  const guard: MiddlewareHandler | null = auth.kind === "middleware" ? auth.middleware : null;
  const session = auth.kind === "tokens" || auth.kind === "verify";

  const app = new Hono();
  app.use("*", securityHeaders);
  app.use("*", trailingSlash);
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    outbox.logger.error("outbox dashboard: a page failed", { path: c.req.path, error: err });
    return c.html(problemPage(context("", ""), "Something went wrong", "The page could not be built; the server log has the details.").value, 500);
  });

  /** Where the dashboard is mounted, from the path of a route whose own pattern is `pattern`. */
  function baseOf(c: Context, pattern: string): string {
    const path = c.req.path;
    if (pattern === "/") return path.replace(/\/$/, "");
    return path.slice(0, path.length - pattern.length);
  }

  function context(base: string, csrf: string): PageContext {
    return { base, readOnly, csrf, session };
  }

  function page(c: Context, markup: Html, status: 200 | 401 | 403 | 404 = 200): Response {
    return c.html(markup.value, status);
  }

  /**
   * A GET page behind the auth option. A browser without a session is sent to the login form, which brings it back
   * here; a request with a wrong bearer token gets 401.
   */
  function get(pattern: string, render: (c: Context, p: PageContext) => Promise<Response>): void {
    if (guard) app.get(pattern, guard);
    app.get(pattern, async (c) => {
      const base = baseOf(c, pattern);
      const p = context(base, csrfToken(c, base));
      if (!(await signedIn(auth, c))) {
        if (c.req.header("authorization")) return page(c, problemPage(p, "Not signed in", "The bearer token is not accepted."), 401);
        const next = `${c.req.path}${new URL(c.req.url).search}`;
        return c.redirect(`${base}/login?${new URLSearchParams({ next })}`, 303);
      }
      return await render(c, p);
    });
  }

  /** An action: signed in, not read-only, and the form's CSRF token and origin check out. */
  function action(pattern: string, run: (c: Context, p: PageContext, form: Record<string, unknown>) => Promise<Response>): void {
    if (guard) app.post(pattern, guard);
    app.post(pattern, bodyLimit({ maxSize: MAX_FORM_BYTES }), async (c) => {
      const base = baseOf(c, pattern);
      const p = context(base, csrfToken(c, base));
      if (!(await signedIn(auth, c))) return page(c, problemPage(p, "Sign in first", "This action needs you to be signed in."), 401);
      if (readOnly) return page(c, problemPage(p, "Read-only", "This dashboard is read-only: it changes nothing."), 403);
      const form = await formOf(c);
      const problem = await csrfProblem(c, form.csrf);
      if (problem) return page(c, problemPage(p, "Refused", problem), 403);
      return await run(c, p, form);
    });
  }

  app.get("/assets/dashboard.css", (c) => c.body(CSS, 200, { "Content-Type": "text/css; charset=utf-8" }));
  app.get("/assets/favicon.svg", (c) => c.body(FAVICON, 200, { "Content-Type": "image/svg+xml" }));
  app.get("/assets/dashboard.js", (c) => c.body(JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }));

  app.get("/login", (c) => {
    const base = baseOf(c, "/login");
    const p = context(base, csrfToken(c, base));
    if (!session) return c.redirect(home(base), 303);
    return page(c, loginPage(p, safeReturn(base, new URL(c.req.url).searchParams.get("next")), null));
  });

  app.post("/login", bodyLimit({ maxSize: MAX_FORM_BYTES }), async (c) => {
    const base = baseOf(c, "/login");
    const p = context(base, csrfToken(c, base));
    const form = await formOf(c);
    const next = safeReturn(base, form.next);
    if (!session) return c.redirect(next, 303);
    const problem = await csrfProblem(c, form.csrf);
    if (problem) return page(c, loginPage(p, next, problem), 403);
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!token || !(await accepts(auth, token, c))) return page(c, loginPage(p, next, "That token is not accepted."), 401);
    startSession(c, base, token);
    return c.redirect(next, 303);
  });

  app.post("/logout", bodyLimit({ maxSize: MAX_FORM_BYTES }), async (c) => {
    const base = baseOf(c, "/logout");
    const p = context(base, csrfToken(c, base));
    const problem = await csrfProblem(c, (await formOf(c)).csrf);
    if (problem) return page(c, problemPage(p, "Refused", problem), 403);
    endSession(c, base);
    return c.redirect(home(base), 303);
  });

  get("/", async (c, p) => {
    const [counts, minutes, backlog, failures] = await Promise.all([reader.counts(), reader.throughput(), reader.backlog(), reader.failures(5, READ_BOUNDS.attention)]);
    return page(c, overviewPage(p, { counts, minutes, backlog, failures, now: new Date() }));
  });

  get("/events", async (c, p) => {
    const query = new URL(c.req.url).searchParams;
    const { filter, problems } = filterFromQuery(query);
    const cursor = query.get("cursor") ?? undefined;
    const found = await reader.search(filter, { cursor }).catch((err) => {
      if (err instanceof DispatchError) {
        problems.push(err.message);
        return reader.search(filter);
      }
      throw err;
    });
    return page(c, eventsPage(p, filter, found, problems, notice(query)));
  });

  get("/event", async (c, p) => {
    const query = new URL(c.req.url).searchParams;
    const id = query.get("id");
    const source = query.get("source") ?? undefined;
    if (!id) return c.redirect(`${p.base}/events`, 303);
    const event = await outbox.getEvent(id, { source, history: true }).catch((err) => {
      if (err instanceof DispatchError && err.code === "ambiguous_id") return "ambiguous" as const;
      throw err;
    });
    if (event === "ambiguous") return c.redirect(`${p.base}/events${filterQuery({ id })}`, 303);
    if (!event) return page(c, problemPage(p, "No such event", `No event with id "${id}"${source ? ` from source "${source}"` : ""}.`), 404);
    return page(c, eventPage(p, event, notice(query)));
  });

  get("/failures", async (c, p) => page(c, failuresPage(p, await reader.failures())));

  get("/destinations", async (c, p) => {
    const [health, backlog, paused, circuits] = await Promise.all([reader.health(), reader.backlog(), outbox.pausedDestinations(), reader.openCircuits()]);
    const query = new URL(c.req.url).searchParams;
    const done = query.get("done");
    const note = done === "paused" ? html`<p class="notice" id="notice">Paused: events wait for it; no worker attempts it until it is resumed.</p>`
      : done === "resumed" ? html`<p class="notice" id="notice">Resumed: what waited for it is due now.</p>`
      : done === "replayed" ? html`<p class="notice" id="notice">${quantity(query.get("n"))} events are due again at the destination.</p>` : null;
    return page(c, destinationsPage(p, { health, backlog, paused, circuits, registered: outbox.destinations().map((d) => d.name), now: new Date() }, note));
  });

  action("/actions/pause", async (c, p, form) => {
    const name = text(form.name);
    if (!name) return page(c, problemPage(p, "Refused", "The form names no destination."), 403);
    const refused = await outbox.pauseDestination(name).then(() => null, (err) => {
      if (err instanceof DispatchError) return err.message;
      throw err;
    });
    if (refused) return page(c, problemPage(p, "Refused", refused), 403);
    return c.redirect(`${p.base}/destinations?done=paused`, 303);
  });

  action("/actions/resume", async (c, p, form) => {
    const name = text(form.name);
    if (!name) return page(c, problemPage(p, "Refused", "The form names no destination."), 403);
    const refused = await outbox.resumeDestination(name).then(() => null, (err) => {
      if (err instanceof DispatchError) return err.message;
      throw err;
    });
    if (refused) return page(c, problemPage(p, "Refused", refused), 403);
    return c.redirect(`${p.base}/destinations?done=resumed`, 303);
  });

  get("/retry", async (c, p) => {
    if (readOnly) return page(c, problemPage(p, "Read-only", "This dashboard is read-only: it changes nothing."), 403);
    const { filter, problems } = filterFromQuery(new URL(c.req.url).searchParams);
    if (problems.length) return page(c, problemPage(p, "Check the filter", problems.join(" ")), 200);
    const retryable = { ...filter, status: undefined };
    const n = await reader.retryCount(retryable, READ_BOUNDS.counts);
    return page(c, retryConfirmPage(p, withoutStatus(filter), n, n >= READ_BOUNDS.counts));
  });

  get("/replay", async (c, p) => {
    if (readOnly) return page(c, problemPage(p, "Read-only", "This dashboard is read-only: it changes nothing."), 403);
    const { destination, filter, problems } = replayRequest(new URL(c.req.url).searchParams);
    if (!destination) return page(c, problemPage(p, "Check the filter", "Name the destination to replay to: /replay?destination=<name>."), 200);
    const routes = outbox.routes();
    const none = { n: 0, partial: false };
    // The replay's own refusal (a name this process does not register) is shown here, before a button that would fail.
    const { n, partial } = problems.length ? none : await reader.replayCount(filter, destination, routes).catch((err) => {
      if (!(err instanceof DispatchError)) throw err;
      problems.push(err.message);
      return none;
    });
    const patterns = routes.find((r) => r.name === destination)?.patterns ?? null;
    return page(c, replayConfirmPage(p, { destination, filter, n, partial, patterns }, problems));
  });

  action("/actions/replay", async (c, p, form) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (typeof v === "string") query.set(k, v);
    const { destination, filter, problems } = replayRequest(query);
    if (!destination) problems.push("The form names no destination.");
    if (problems.length) return page(c, problemPage(p, "Check the filter", problems.join(" ")), 403);
    const n = await outbox.replayEvents(filter, { destination: destination! }).catch((err) => {
      if (err instanceof DispatchError) return err;
      throw err;
    });
    if (n instanceof DispatchError) return page(c, problemPage(p, "Refused", n.message), 403);
    return c.redirect(`${p.base}/destinations?done=replayed&n=${n}`, 303);
  });

  action("/actions/retry", async (c, p, form) => {
    const id = text(form.id);
    const source = text(form.source);
    const destination = text(form.destination);
    if (!id || !source) return page(c, problemPage(p, "Refused", "The form names no event."), 403);
    const event = await outbox.retryEvent(id, { source, destination });
    if (!event) return page(c, problemPage(p, "No such event", `No event with id "${id}" from source "${source}".`), 404);
    const back = safeReturn(p.base, form.back);
    const done = back.includes("?") ? "&" : "?";
    return c.redirect(`${back === home(p.base) ? eventPath(p.base, id, source) : back}${done}done=${destination ? "retried-delivery" : "retried"}`, 303);
  });

  action("/actions/retry-events", async (c, p, form) => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (typeof v === "string") query.set(k, v);
    const { filter, problems } = filterFromQuery(query);
    if (problems.length) return page(c, problemPage(p, "Check the filter", problems.join(" ")), 403);
    const n = await outbox.retryEvents(withoutStatus(filter));
    return c.redirect(`${p.base}/events${filterQuery({ ...filter, status: "failed" }, { done: "bulk", n: String(n) })}`, 303);
  });

  return app;
}

/** A count from the URL, shown only when it is one. */
function quantity(value: string | null): string {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n.toLocaleString("en-US") : "0";
}

/** The message after an action, chosen from fixed words in the URL: nothing from the URL is echoed. */
function notice(query: URLSearchParams): Html | null {
  const done = query.get("done");
  if (done === "retried") return html`<p class="notice" id="notice">The failed deliveries are due again; a worker will take them shortly.</p>`;
  if (done === "retried-delivery") return html`<p class="notice" id="notice">The delivery is due again; a worker will take it shortly.</p>`;
  if (done === "bulk") {
    return html`<p class="notice" id="notice">${quantity(query.get("n"))} events are due again.</p>`;
  }
  return null;
}
