import type { EventFilter } from "../../../src/filter.ts";
import { type Html, html } from "../html.ts";
import { count, csrfField, layout, type PageContext, when } from "../layout.ts";
import { filterQuery } from "../urls.ts";

/** Asks before a bulk retry: what the filter is, how many events it will touch, and a button to go ahead. */
export function retryConfirmPage(p: PageContext, filter: EventFilter, n: number, capped: boolean): Html {
  const described = Object.entries(filter).map(([k, v]) => html`<dt>${k}</dt><dd class="wrap">${v instanceof Date ? when(v) : v}</dd>`);
  const body = html`
<dl class="attrs">${described.length ? described : html`<dt>filter</dt><dd>none: every failed event</dd>`}</dl>
<p id="retry-count">${n === 0 ? "No failed delivery matches this filter." : html`This makes the failed deliveries of <strong>${count(n, capped)}</strong> event${n === 1 ? "" : "s"} due again${filter.destination ? html` (only those to <strong>${filter.destination}</strong>)` : ""}, with a fresh retry budget.`}</p>
${n === 0 ? "" : html`<form method="post" action="${p.base}/actions/retry-events" class="actions">
${csrfField(p)}
${Object.entries(filter).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v instanceof Date ? v.toISOString() : v}">`)}
<button type="submit" class="danger" id="confirm-retry">Retry ${count(n, capped)} event${n === 1 ? "" : "s"}</button>
<a href="${p.base}/events${filterQuery(filter)}">Cancel</a>
</form>`}`;
  return layout(p, "/events", "Retry failed deliveries", body);
}
