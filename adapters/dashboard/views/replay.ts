import type { EventFilter } from "../../../src/filter.ts";
import { READ_BOUNDS } from "../../../src/reader.ts";
import { type Html, html } from "../html.ts";
import { count, csrfField, layout, type PageContext, when } from "../layout.ts";
import { filterQuery } from "../urls.ts";

/**
 * Asks before a replay: the filter, the destination the finished events go to, how many it will touch (counted among
 * the newest events only: "N+" when there may be more), and a button to go ahead. The destination travels as `target`: `destination` is a filter (events with a delivery there) and `to`
 * the end of the time range.
 */
export function replayConfirmPage(p: PageContext, filter: EventFilter, to: string, n: number, capped: boolean): Html {
  const described = Object.entries(filter).map(([k, v]) => html`<dt>${k}</dt><dd class="wrap">${v instanceof Date ? when(v) : v}</dd>`);
  const body = html`
<dl class="attrs">${described.length ? described : html`<dt>filter</dt><dd>none: every finished event</dd>`}<dt>replay to</dt><dd class="wrap">${to}</dd></dl>
<p id="replay-count">${n === 0 && !capped ? "No finished event matches this filter." : html`${n === 0 ? html`None of the newest ${count(READ_BOUNDS.searchWindow)} events matches; older ones were not counted. ` : ""}This sends <strong>${count(n, capped)}</strong> finished event${n === 1 ? "" : "s"} to <strong>${to}</strong> again (or for the first time), with a fresh retry budget there. Their other destinations keep their state and are not called; a worker delivers them where ${to} is registered for their type.`}</p>
${n === 0 && !capped ? "" : html`<form method="post" action="${p.base}/actions/replay" class="actions">
${csrfField(p)}
${Object.entries(filter).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v instanceof Date ? v.toISOString() : v}">`)}
<input type="hidden" name="target" value="${to}">
<button type="submit" class="danger" id="confirm-replay">Replay ${count(n, capped)} event${n === 1 ? "" : "s"} to ${to}</button>
<a href="${p.base}/events${filterQuery(filter)}">Cancel</a>
</form>`}`;
  return layout(p, "/events", "Replay to a destination", body);
}
