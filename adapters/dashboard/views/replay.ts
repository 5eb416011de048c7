import type { EventFilter } from "../../../src/filter.ts";
import { READ_BOUNDS } from "../../../src/reader.ts";
import { type Html, html } from "../html.ts";
import { count, csrfField, layout, type PageContext, when } from "../layout.ts";

/** What the replay page shows: the destination, the filter, and how many finished events it matches. */
export interface ReplayPreview {
  destination: string;
  filter: EventFilter;
  /** Matching finished events among the newest events (see `partial`), counted up to READ_BOUNDS.counts. */
  n: number;
  /** True when the table holds events older than the counted window: the replay reaches them too. */
  partial: boolean;
  /**
   * The type patterns the destination is registered for in this process, which the count and the replay keep to;
   * null when this process registers no destinations and cannot tell.
   */
  patterns: string[] | null;
}

/**
 * Asks before a replay: which destination, which events (a filter to narrow, kept in the URL), how many it will make
 * due, and a button to go ahead.
 */
export function replayConfirmPage(p: PageContext, r: ReplayPreview, problems: string[]): Html {
  const f = r.filter;
  const v = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16) : "");
  const capped = r.n >= READ_BOUNDS.counts;
  const among = r.partial ? html` among the newest ${READ_BOUNDS.searchWindow.toLocaleString("en-US")} events (the replay also reaches older ones)` : "";
  const described = Object.entries(f).map(([k, val]) => html`<dt>${k}</dt><dd class="wrap">${val instanceof Date ? when(val) : val}</dd>`);
  const body = html`
${problems.map((m) => html`<p class="notice problem">${m}</p>`)}
<p>A replay sends finished events (published or failed) to <strong>${r.destination}</strong> again, or for the first time
to a destination registered after they were published. Only that destination's delivery changes; the others are not
called. ${r.patterns
    ? html`Only events of the types it is registered for (${r.patterns.join(", ")}) are counted and replayed.`
    : html`Narrow it to the types the destination is registered for: a worker fails the delivery of any other type,
saying so.`}</p>
<form class="filters" method="get" action="${p.base}/replay">
<input type="hidden" name="destination" value="${r.destination}">
<label>Status<select name="status">${["", "published", "failed"].map((s) => html`<option value="${s}"${(f.status ?? "") === s ? html` selected` : ""}>${s || "published or failed"}</option>`)}</select></label>
<label>Type (or prefix.*)<input name="type" value="${f.type ?? ""}" placeholder="order.*"></label>
<label>Source<input name="source" value="${f.source ?? ""}"></label>
<label>From (UTC)<input type="datetime-local" name="from" value="${v(f.from)}"></label>
<label>To (UTC)<input type="datetime-local" name="to" value="${v(f.to)}"></label>
<label>Event id<input name="id" value="${f.id ?? ""}"></label>
<div class="actions"><button type="submit" class="secondary">Narrow</button></div>
</form>
<dl class="attrs"><dt>destination</dt><dd class="wrap">${r.destination}</dd>${described.length ? described : html`<dt>filter</dt><dd>none: every finished event</dd>`}</dl>
<p id="replay-count">${r.n === 0 ? html`No finished event matches${among}.` : html`This makes <strong>${count(r.n, capped)}</strong> finished event${r.n === 1 ? "" : "s"}${among} due again at <strong>${r.destination}</strong>, with a fresh retry budget.`}</p>
${r.n === 0 && !r.partial ? "" : html`<form method="post" action="${p.base}/actions/replay" class="actions">
${csrfField(p)}
<input type="hidden" name="destination" value="${r.destination}">
${Object.entries(f).map(([k, val]) => html`<input type="hidden" name="${k}" value="${val instanceof Date ? val.toISOString() : val}">`)}
<button type="submit" class="danger" id="confirm-replay">Replay to ${r.destination}</button>
<a href="${p.base}/destinations">Cancel</a>
</form>`}`;
  return layout(p, "/destinations", "Replay events", body);
}
