import { type Html, html, type Part } from "./html.ts";
import { home } from "./urls.ts";

/** What every page knows: where the dashboard is mounted, whether it may act, and the form token. */
export interface PageContext {
  /** The mount path, without a trailing slash ("" at the root). */
  base: string;
  readOnly: boolean;
  /** The CSRF token for this browser's forms. */
  csrf: string;
  /** True when a sign-out button makes sense (the dashboard's own login). */
  session: boolean;
}

const NAV: Array<[string, string]> = [["", "Overview"], ["/events", "Events"], ["/failures", "Failures"], ["/destinations", "Destinations"]];

/** The page shell. `refresh` turns on the auto-refresh of the page's `data-live` parts, in seconds. */
export function layout(p: PageContext, current: string, title: string, body: Part, refresh = 0): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · pg-dispatch</title>
<link rel="icon" href="${p.base}/assets/favicon.svg">
<link rel="stylesheet" href="${p.base}/assets/dashboard.css">
<script src="${p.base}/assets/dashboard.js" defer></script>
</head>
<body data-refresh="${refresh || ""}">
<header class="top">
  <span class="brand">pg-dispatch</span>
  <nav>${NAV.map(([path, label]) => html`<a href="${path ? p.base + path : home(p.base)}"${path === current ? html` aria-current="page"` : ""}>${label}</a>`)}</nav>
  <span class="right">
    ${p.readOnly ? html`<span class="badge">read-only</span>` : ""}
    ${refresh ? html`<span class="refresh"><span id="refresh-state">Refreshed on reload</span> <span id="refreshed-at" class="muted"></span><button type="button" class="secondary" id="refresh-toggle">Pause</button></span>` : ""}
    ${p.session ? html`<form class="inline" method="post" action="${p.base}/logout"><input type="hidden" name="csrf" value="${p.csrf}"><button class="secondary" type="submit">Sign out</button></form>` : ""}
  </span>
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}

/** A status word as a coloured badge (the colour comes from a fixed list, never from the data). */
export function badge(status: string): Html {
  const known = ["pending", "processing", "published", "failed", "delivered"].includes(status) ? status : "unknown";
  return html`<span class="badge s-${known}">${status}</span>`;
}

/** A time as UTC, to the second. */
export function when(date: Date | null | undefined): string {
  return date ? date.toISOString().replace("T", " ").slice(0, 19) + "Z" : "";
}

/** A duration as people say it: "45 s", "12 min", "3 h", "2 d". */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** A count, with "+" when the read stopped at its bound. */
export function count(n: number, capped = false): string {
  return `${n.toLocaleString("en-US")}${capped ? "+" : ""}`;
}

/** The hidden CSRF field of a form. */
export function csrfField(p: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${p.csrf}">`;
}
