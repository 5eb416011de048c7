// Makes the screenshots in docs/ from a realistic outbox (run on purpose, not with the suite):
//   DASHBOARD_SCREENSHOTS=1 DATABASE_URL=... npx vitest run test/dashboard-screenshots.test.ts
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "vitest";
import { outboxDashboard } from "../adapters/dashboard.ts";
import { launchBrowser } from "./support/browser.ts";
import { testOutbox } from "./support/db.ts";

const DOCS = join(import.meta.dirname, "..", "docs");

describe.runIf(process.env.DASHBOARD_SCREENSHOTS)("dashboard screenshots for docs/", () => {
  it("renders the main pages", async () => {
    const t = await testOutbox();
    // Two hours of traffic, one event every 2 seconds: mostly delivered, a burst of billing failures 20 minutes ago.
    await t.sql.unsafe(`
      insert into "${t.schema}".events (id, source, type, subject, status, attempts, deliveries, data, next_attempt_at, published_at, failed_at, last_error, created_at)
      select 'evt_' || lpad(to_hex(g * 7919), 8, '0'), src, ty, 'Order #' || (40000 + g), st, case when st = 'failed' then 6 else 1 end,
             dl, jsonb_build_object('orderId', 40000 + g, 'customer', jsonb_build_object('id', 'cus_' || (g % 97), 'country', 'NL'), 'total', round((g % 300) * 1.37 + 9, 2), 'currency', 'EUR', 'items', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (g % 13), 'qty', 1 + g % 3))),
             case when st = 'pending' then now() + interval '30 seconds' end,
             case when st = 'published' then at + interval '120 milliseconds' end,
             case when st = 'failed' then at + interval '2 minutes' end,
             case when st = 'failed' then 'billing: ' || err end, at
      from generate_series(1, 3600) g,
      lateral (select now() - (3600 - g) * interval '2 seconds' as at,
                      case g % 3 when 0 then 'order.created' when 1 then 'order.paid' else 'customer.updated' end as ty,
                      case g % 3 when 2 then 'crm' else 'shop' end as src,
                      case when g % 5 = 0 then 'HTTP 503 Service Unavailable from https://billing.internal/hooks' else 'Timed out after 10000 ms' end as err) a,
      lateral (select case when g between 2900 and 3050 and g % 3 <> 2 and g % 4 = 0 then 'failed'
                           when g > 3590 then 'pending' when g % 211 = 0 and g % 3 <> 2 then 'failed' else 'published' end as st) s,
      lateral (select case
        when st = 'failed' then jsonb_build_object('billing', jsonb_build_object('status', 'failed', 'attempts', 6, 'lastError', err),
                                                   'search-index', '{"status": "delivered", "attempts": 1}'::jsonb)
        when st = 'pending' then '{}'::jsonb
        when ty = 'customer.updated' then '{"crm-sync": {"status": "delivered", "attempts": 1}, "search-index": {"status": "delivered", "attempts": 1}}'::jsonb
        else '{"billing": {"status": "delivered", "attempts": 1}, "search-index": {"status": "delivered", "attempts": 2, "lastError": "Timed out after 10000 ms"}, "mailer": {"status": "delivered", "attempts": 1}}'::jsonb
      end as dl) d`);
    await t.sql.unsafe(`analyze "${t.schema}".events`);
    const [failed] = await t.sql.unsafe(`select id, source from "${t.schema}".events where status = 'failed' order by seq desc limit 1`);

    const app = new Hono();
    app.route("/outbox/ui", outboxDashboard(t.outbox, { auth: { token: "screenshot" } }));
    let server!: ServerType;
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve());
    });
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const browser = await launchBrowser();
    try {
      for (const [name, width, height] of [["desktop", 1280, 860], ["phone", 390, 844]] as const) {
        const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
        const page = await context.newPage();
        await page.goto(`${origin}/outbox/ui`);
        await page.fill('input[name="token"]', "screenshot");
        await page.click('button[type="submit"]');
        await page.waitForSelector("header.top");
        if (name === "phone") {
          await page.screenshot({ path: join(DOCS, "dashboard-phone.png") });
        } else {
          await page.screenshot({ path: join(DOCS, "dashboard-overview.png") });
          await page.goto(`${origin}/outbox/ui/events?status=failed&type=order.*`);
          await page.screenshot({ path: join(DOCS, "dashboard-events.png") });
          await page.goto(`${origin}/outbox/ui/event?${new URLSearchParams({ id: failed.id, source: failed.source })}`);
          await page.screenshot({ path: join(DOCS, "dashboard-event.png") });
          await page.goto(`${origin}/outbox/ui/failures`);
          await page.screenshot({ path: join(DOCS, "dashboard-failures.png") });
          await page.goto(`${origin}/outbox/ui/destinations`);
          await page.screenshot({ path: join(DOCS, "dashboard-destinations.png") });
        }
        await context.close();
      }
    } finally {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      await t.drop();
    }
  }, 60_000);
});
