// The dashboard in a real browser (chromium via playwright-core), with a worker delivering in the same process:
// an operator signs in, finds what failed, retries it and sees it delivered; read-only shows and allows no action;
// hostile event content renders as text and runs nothing; no page logs a console error.
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { PermanentError, type Worker } from "../mod.ts";
import { browserAvailable, launchBrowser } from "./support/browser.ts";

const available = browserAvailable();
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

const TOKEN = "browser-test-token";
let t: TestOutbox;
let worker: Worker;
let server: ServerType;
let origin = "";
let browser: Browser;
let context: BrowserContext;
let page: Page;
const broken = new Set<string>(["billing"]);
/** A destination name and an event type too long for a phone's width, with nowhere to break a line. */
const LONG_NAME = `warehouse-${"w".repeat(90)}`;
const LONG_TYPE = `wide.${"t".repeat(120)}`;
const consoleErrors: string[] = [];

const HOSTILE = {
  script: `<script>window.__pwned = "script"</script>`,
  attribute: `"><img src=x onerror="window.__pwned='attr'">'><svg onload=window.__pwned='svg'>`,
  link: "javascript:window.__pwned='link'",
  control: "bell\u0007 escape\u001b[31m nul-free\u0085 rtl\u202Eexe.txt",
};

beforeAll(async () => {
  t = await testOutbox();
  t.outbox.register("order.*", (event) => {
    if (broken.has("billing")) {
      const data = event.data as { hostile?: boolean } | undefined;
      throw new PermanentError(data?.hostile ? `${HOSTILE.script} ${HOSTILE.attribute}` : "billing API answered 503");
    }
  }, { name: "billing" });
  t.outbox.register("*", () => {}, { name: "audit-log" });
  t.outbox.register("wide.*", () => {
    throw new PermanentError("the warehouse is closed");
  }, { name: LONG_NAME });
  worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
  await worker.start();

  const app = new Hono();
  app.route("/ops/outbox", outboxDashboard(t.outbox, { auth: { token: TOKEN } }));
  app.route("/ro", outboxDashboard(t.outbox, { auth: { token: TOKEN }, readOnly: true }));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  if (!available) return;
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("dialog", (d) => {
    consoleErrors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await worker?.stop();
  await t?.drop();
});

async function signIn(p: Page, base: string): Promise<void> {
  await p.goto(`${origin}${base}`);
  await p.fill('input[name="token"]', TOKEN);
  await p.click('button[type="submit"]');
  await p.waitForSelector("header.top");
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  await waitFor(check, what, 20_000);
}

/** Waits until every event of a batch (all from `source`) has `status`. */
async function allReach(batch: Array<{ id: string }>, source: string, status: string): Promise<void> {
  await eventually(async () => {
    for (const e of batch) if ((await t.outbox.getEvent(e.id, { source }))?.status !== status) return false;
    return true;
  }, `the batch to be ${status}`);
}

describe.skipIf(!available)("no credentials, no page", () => {
  it("shows the login form and none of the data, and a wrong token stays out", async () => {
    const stranger = await browser.newContext();
    const p = await stranger.newPage();
    await t.outbox.publishEvent({ type: "secret.thing", source: "vault", data: { pin: 1234 } });
    for (const path of ["/ops/outbox", "/ops/outbox/events", "/ops/outbox/failures"]) {
      const res = await p.goto(`${origin}${path}`);
      expect(new URL(p.url()).pathname, path).toBe("/ops/outbox/login");
      expect(res?.status(), path).toBe(200);
      expect(await p.locator('input[name="token"]').count()).toBe(1);
      expect(await p.content()).not.toContain("secret.thing");
    }
    await p.fill('input[name="token"]', "not-the-token");
    await p.click('button[type="submit"]');
    await p.waitForSelector(".notice.problem");
    expect(await p.content()).not.toContain("secret.thing");
    await stranger.close();
  });
});

describe.skipIf(!available)("an operator finds a failure, retries it and sees it delivered", () => {
  it("overview -> events filtered to failed -> event -> retry -> delivered", async () => {
    const ok = await t.outbox.publishEvents(Array.from({ length: 5 }, (_, i) => ({ type: "user.created", source: "users", data: { i } })));
    const failing = await t.outbox.publishEvent({ type: "order.created", source: "shop", subject: "Order #456", data: { total: 42, items: [{ sku: "A-1", qty: 2 }] } });
    await eventually(async () => (await t.outbox.getEvent(failing.id))?.status === "failed", "the order to fail");
    await eventually(async () => (await t.outbox.getEvent(ok[4].id))?.status === "published", "the users to publish");

    await signIn(page, "/ops/outbox");
    expect(await page.locator("h1").textContent()).toBe("Overview");
    expect(await page.locator(".card.failed .n").textContent()).toMatch(/^[1-9]/);
    expect(await page.locator("#chart svg").count()).toBe(1);
    expect(await page.locator("#attention").textContent()).toContain("billing API answered 503");

    await page.click('nav a[href="/ops/outbox/events"]');
    await page.selectOption('select[name="status"]', "failed");
    await Promise.all([page.waitForURL(/status=failed/), page.click('form.filters button[type="submit"]')]);
    const rows = page.locator("#events tbody tr");
    expect(await rows.count()).toBeGreaterThan(0);
    for (const text of await rows.allTextContents()) expect(text).toContain("failed");

    await Promise.all([page.waitForURL(/\/event\?/), page.click(`#events a:text("${failing.id}")`)]);
    expect(await page.locator("dl.attrs").textContent()).toContain("Order #456");
    expect(await page.locator("pre.data").textContent()).toContain('"sku": "A-1"');
    const billing = page.locator('tr[data-destination="billing"]');
    expect(await billing.locator(".badge").textContent()).toBe("failed");
    expect(await page.locator('tr[data-destination="audit-log"] .badge').textContent()).toBe("delivered");

    broken.delete("billing");
    await Promise.all([page.waitForURL(/done=retried-delivery/), billing.locator('button:text("Retry")').click()]);
    expect(await page.locator("#notice").count()).toBe(1);
    // The event page refreshes itself: the operator does not reload to see the worker's result.
    await page.waitForSelector('tr[data-destination="billing"] .s-delivered', { timeout: 20_000 });
    expect(await page.locator('tr[data-destination="billing"] button').count()).toBe(0);
    expect((await t.outbox.getEvent(failing.id))?.status).toBe("published");
  });

  it("bulk-retries a filtered set after showing how many it will touch", async () => {
    broken.add("billing");
    const batch = await t.outbox.publishEvents(Array.from({ length: 6 }, (_, i) => ({ type: "order.bulk", source: "imports", data: { i } })));
    await allReach(batch, "imports", "failed");
    broken.delete("billing");
    await page.goto(`${origin}/ops/outbox/events?status=failed&type=order.bulk`);
    expect(await page.locator("#events tbody tr").count()).toBe(6);
    await Promise.all([page.waitForURL(/\/retry\?/), page.click("#bulk-retry")]);
    expect(await page.locator("#retry-count").textContent()).toMatch(/6 events due again/);
    await Promise.all([page.waitForURL(/done=bulk/), page.click("#confirm-retry")]);
    expect(await page.locator("#notice").textContent()).toContain("6 events are due again");
    await allReach(batch, "imports", "published");
  });
});

describe.skipIf(!available)("auto-refresh keeps the operator's place", () => {
  it("refreshes the list in place, waits while a filter field has focus, keeps the scroll position and stops when paused", async () => {
    const seen = await t.outbox.publishEvents(Array.from({ length: 40 }, (_, i) => ({ type: "refresh.seen", source: "refresh", data: { i } })));
    await allReach(seen, "refresh", "published");
    const p = await context.newPage();
    // The page's timers run on a clock the test moves; its requests are real. Each refresh is counted as it leaves.
    await p.clock.install();
    let refreshes = 0;
    p.on("request", (r) => void (r.headers()["x-pg-dispatch-refresh"] && refreshes++));
    /** Moves the page's clock, then gives a refresh it started a moment to be sent. */
    const advance = async (ms: number) => {
      await p.clock.runFor(ms);
      await new Promise((r) => setTimeout(r, 300));
    };
    try {
      await p.setViewportSize({ width: 1280, height: 500 });
      await p.goto(`${origin}/ops/outbox/events?type=refresh.*`);
      if (await p.locator('input[name="token"]').count()) { // this test alone: not signed in by the ones before
        await p.fill('input[name="token"]', TOKEN);
        await Promise.all([p.waitForURL(/\/events\?type=refresh/), p.click('button[type="submit"]')]);
      }
      expect(await p.locator("#events tbody tr").count()).toBe(40);
      await p.evaluate(() => window.scrollTo(0, 400));
      await p.fill('input[name="source"]', "typed, not sent");
      const late = await t.outbox.publishEvent({ type: "refresh.late", source: "refresh" });
      await advance(25_000);
      expect(refreshes, "no refresh while a filter field has focus").toBe(0);
      expect(await p.locator(`#events a:text("${late.id}")`).count()).toBe(0);

      await p.evaluate(() => (document.activeElement as HTMLElement).blur()); // focus leaves the form
      await p.evaluate(() => window.scrollTo(0, 400)); // typing scrolled the field into view
      await advance(10_000);
      await p.waitForSelector(`#events a:text("${late.id}")`);
      expect(refreshes).toBe(1);
      expect(await p.inputValue('input[name="source"]'), "the form is not replaced").toBe("typed, not sent");
      expect(await p.evaluate(() => window.scrollY), "the scroll position is kept").toBe(400);

      await p.click("#refresh-toggle");
      expect(await p.textContent("#refresh-state")).toBe("Auto-refresh paused");
      await advance(30_000);
      expect(refreshes, "no refresh while paused").toBe(1);
    } finally {
      await p.close();
    }
  });
});

describe.skipIf(!available)("read-only", () => {
  it("shows no action, and refuses a POST made by hand with a valid session and CSRF token", async () => {
    broken.add("billing");
    const e = await t.outbox.publishEvent({ type: "order.created", source: "shop", data: { n: "read-only" } });
    await eventually(async () => (await t.outbox.getEvent(e.id))?.status === "failed", "the event to fail");
    const p = await context.newPage();
    await signIn(p, "/ro");
    await p.goto(`${origin}/ro/event?id=${encodeURIComponent(e.id)}&source=shop`);
    expect(await p.locator('tr[data-destination="billing"] .badge').textContent()).toBe("failed");
    expect(await p.locator('form[action*="/actions/"], button:text("Retry")').count()).toBe(0);
    await p.goto(`${origin}/ro/events?status=failed`);
    expect(await p.locator("#bulk-retry").count()).toBe(0);
    const statuses = await p.evaluate(async ({ id }) => {
      const csrf = (document.querySelector('input[name="csrf"]') as HTMLInputElement).value;
      const post = (path: string, form: Record<string, string>) =>
        fetch(path, { method: "POST", body: new URLSearchParams({ ...form, csrf }), redirect: "manual" }).then((r) => r.status);
      return [await post("/ro/actions/retry", { id, source: "shop", destination: "billing" }), await post("/ro/actions/retry-events", {})];
    }, { id: e.id });
    expect(statuses).toEqual([403, 403]);
    expect((await t.outbox.getEvent(e.id))?.status).toBe("failed");
    await p.close();
    broken.delete("billing");
  });
});

describe.skipIf(!available)("hostile content renders as text and runs nothing", () => {
  it("shows script tags, attribute break-outs, javascript: links, control characters and a 1 MB string as text", async () => {
    broken.add("billing");
    const big = "x".repeat(1_000_000);
    const e = await t.outbox.publishEvent({
      type: `order.${HOSTILE.script}`,
      source: "hostile",
      id: `id-${HOSTILE.attribute}`,
      subject: `${HOSTILE.link} ${HOSTILE.control}`,
      extensions: { note: HOSTILE.attribute },
      dataschema: HOSTILE.link,
      data: { hostile: true, html: `</pre>${HOSTILE.script}${HOSTILE.attribute}`, link: HOSTILE.link, control: HOSTILE.control, big },
    });
    await eventually(async () => (await t.outbox.getEvent(e.id, { source: e.source }))?.status === "failed", "the hostile event to fail");

    const visits = [
      "/ops/outbox",
      `/ops/outbox/events?type=${encodeURIComponent("order.*")}`,
      `/ops/outbox/events?source=${encodeURIComponent(e.source)}`,
      `/ops/outbox/event?id=${encodeURIComponent(e.id)}&source=${encodeURIComponent(e.source)}`,
      "/ops/outbox/failures",
      "/ops/outbox/destinations",
    ];
    for (const path of visits) {
      await page.goto(`${origin}${path}`);
      const injected = await page.evaluate(() => ({
        pwned: (window as unknown as { __pwned?: string }).__pwned ?? null,
        scripts: Array.from(document.scripts).map((s) => s.getAttribute("src")),
        images: document.images.length,
        svgOnload: document.querySelectorAll("svg[onload], [onerror]").length,
        jsLinks: Array.from(document.querySelectorAll("a")).filter((a) => a.href.toLowerCase().startsWith("javascript:")).length,
      }));
      expect(injected, path).toEqual({ pwned: null, scripts: ["/ops/outbox/assets/dashboard.js"], images: 0, svgOnload: 0, jsLinks: 0 });
    }
    // On the event page the hostile strings are there, as text.
    await page.goto(`${origin}${visits[3]}`);
    const text = await page.locator("main").innerText();
    expect(text).toContain(HOSTILE.script);
    expect(text).toContain(`onerror="window.__pwned='attr'"`);
    expect(text).toContain(HOSTILE.link);
    expect(text).toContain("bell⟨U+0007⟩ escape⟨U+001B⟩[31m");
    expect(text).toContain("rtl⟨U+202E⟩exe.txt");
    expect(text).toContain("x".repeat(1000));
    const failures = await (await page.goto(`${origin}/ops/outbox/failures`))!.text();
    expect(failures).toContain("&lt;script&gt;window.__pwned");
    broken.delete("billing");
  });
});

describe.skipIf(!available)("readable on a phone's width", () => {
  it("wraps a long type and a long destination name instead of widening the page", async () => {
    const e = await t.outbox.publishEvent({ type: LONG_TYPE, source: "wide", data: { n: 1 } });
    await eventually(async () => (await t.outbox.getEvent(e.id, { source: "wide" }))?.status === "failed", "the wide event to fail");
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const path of ["/ops/outbox", `/ops/outbox/event?id=${encodeURIComponent(e.id)}&source=wide`, "/ops/outbox/failures", "/ops/outbox/destinations"]) {
      await phone.goto(`${origin}${path}`);
      expect(await phone.locator("main").innerText(), path).toContain(path === "/ops/outbox/destinations" || path === "/ops/outbox" || path === "/ops/outbox/failures" ? LONG_NAME : LONG_TYPE);
      // Tables scroll inside their own box; the page itself must not scroll sideways.
      expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), path).toBeLessThanOrEqual(0);
    }
    await phone.close();
  });
});

describe.skipIf(!available)("destination controls and the attempt history", () => {
  it("the event page shows the attempt history of a retried delivery, newest first, the newest 50", async () => {
    broken.add("billing");
    const e = await t.outbox.publishEvent({ type: "order.history", source: "shop", data: { n: 1 } });
    await eventually(async () => (await t.outbox.getEvent(e.id))?.status === "failed", "the event to fail");
    broken.delete("billing");
    await t.outbox.retryEvent(e.id, { destination: "billing" });
    await eventually(async () => (await t.outbox.getEvent(e.id))?.status === "published", "the retry to deliver");
    const url = `${origin}/ops/outbox/event?id=${encodeURIComponent(e.id)}&source=shop`;
    await page.goto(url);
    const rows = page.locator("#attempts tbody tr");
    const billing = await page.locator('#attempts tbody tr[data-attempt-destination="billing"]').allInnerTexts();
    expect(billing).toHaveLength(2);
    expect(billing[0]).toMatch(/billing\s+2\s+delivered/);
    expect(billing[1]).toMatch(/billing\s+1\s+failed\s+\d[\d,]* ms\s+billing API answered 503/);
    expect(await page.locator('#attempts tbody tr[data-attempt-destination="audit-log"] .badge').textContent()).toBe("delivered");
    expect(await page.locator("#history-note").count()).toBe(0);

    const [{ seq }] = await t.sql.unsafe(`select seq from "${t.schema}".events where id = $1`, [e.id]);
    await t.sql.unsafe(`insert into "${t.schema}".attempts (event_seq, destination, attempt, started_at, duration_ms, outcome, status, error)
      select $1, 'old-hook', g, now() - interval '1 day' + g * interval '1 second', 10, 'retry', 503, 'try ' || g from generate_series(1, 60) g`, [seq]);
    await page.goto(url);
    expect(await rows.count()).toBe(50);
    expect(await page.locator("#history-note").textContent()).toContain("newest 50 of 63 attempts");
  });

  it("pauses a destination from its page, shows it paused, and resumes it; read-only shows the state without buttons", async () => {
    await page.goto(`${origin}/ops/outbox/destinations`);
    const row = page.locator('#destinations tr[data-destination="billing"]');
    expect(await row.innerText()).toContain("running");
    await Promise.all([page.waitForURL(/done=paused/), row.locator('button:text("Pause")').click()]);
    expect(await page.locator("#notice").textContent()).toContain("Paused");
    expect(await row.locator(".paused").textContent()).toBe("paused");
    expect(await row.innerText()).toMatch(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/);
    expect((await t.outbox.pausedDestinations()).map((d) => d.name)).toEqual(["billing"]);

    const ro = await context.newPage();
    await ro.goto(`${origin}/ro/destinations`);
    const roRow = ro.locator('#destinations tr[data-destination="billing"]');
    expect(await roRow.locator(".paused").count()).toBe(1);
    expect(await ro.locator('form[action*="/actions/"]').count()).toBe(0);
    const forged = await ro.evaluate(async () => {
      const csrf = (document.querySelector('input[name="csrf"]') as HTMLInputElement).value;
      return (await fetch("/ro/actions/resume", { method: "POST", body: new URLSearchParams({ name: "billing", csrf }), redirect: "manual" })).status;
    });
    expect(forged).toBe(403);
    await ro.close();
    expect((await t.outbox.pausedDestinations()).map((d) => d.name)).toEqual(["billing"]);

    await Promise.all([page.waitForURL(/done=resumed/), row.locator('button:text("Resume")').click()]);
    expect(await row.locator(".paused").count()).toBe(0);
    expect(await row.innerText()).toContain("running");
    expect(await t.outbox.pausedDestinations()).toEqual([]);
  });

  it("replays finished events to one destination after showing how many, and the worker delivers them there", async () => {
    broken.delete("billing");
    const batch = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "order.replayed", source: "replays", data: { i } })));
    await allReach(batch, "replays", "published");
    await page.goto(`${origin}/ops/outbox/destinations`);
    await Promise.all([page.waitForURL(/\/replay\?destination=billing/), page.locator('#destinations tr[data-destination="billing"] a.replay').click()]);
    await page.fill('input[name="source"]', "replays");
    await Promise.all([page.waitForURL(/source=replays/), page.click('form.filters button[type="submit"]')]);
    expect(await page.locator("#replay-count").textContent()).toMatch(/3 finished events due again at billing/);
    await Promise.all([page.waitForURL(/done=replayed/), page.click("#confirm-replay")]);
    expect(await page.locator("#notice").textContent()).toContain("3 events are due again");
    await eventually(async () => {
      for (const e of batch) {
        const billing = (await t.outbox.getEvent(e.id, { source: "replays" }))?.deliveries.find((d) => d.name === "billing");
        if (billing?.status !== "delivered" || billing.attempts !== 2) return false;
      }
      return true;
    }, "the replayed deliveries to billing");
    // Only billing was sent them again.
    for (const e of batch) expect((await t.outbox.getEvent(e.id, { source: "replays" }))?.deliveries.find((d) => d.name === "audit-log")?.attempts).toBe(1);
  });
});

describe.skipIf(!available)("no console errors", () => {
  it("logged none on any page the operator visited", () => {
    expect(consoleErrors).toEqual([]);
    expect(consoleErrors.length).toBe(0);
  });
});
