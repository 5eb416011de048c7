import type { EventFilter } from "../../../src/filter.ts";
import type { EventSearch } from "../../../src/reader.ts";
import { EVENT_STATUSES } from "../../../src/record.ts";
import { clip, type Html, html } from "../html.ts";
import { badge, layout, type PageContext, when } from "../layout.ts";
import { eventPath, filterQuery } from "../urls.ts";

/** The events list: filters (kept in the URL), newest first, a page at a time. */
export function eventsPage(p: PageContext, filter: EventFilter, page: EventSearch, problems: string[], notice: Html | null): Html {
  const v = (d: Date | undefined) => (d ? d.toISOString().slice(0, 16) : "");
  const statuses = ["", ...EVENT_STATUSES];
  const canRetry = !p.readOnly && (filter.status === undefined || filter.status === "failed");
  const body = html`
${notice}
${problems.map((m) => html`<p class="notice problem">${m}</p>`)}
<form class="filters" method="get" action="${p.base}/events">
<label>Status<select name="status">${statuses.map((s) => html`<option value="${s}"${filter.status === s || (!filter.status && !s) ? html` selected` : ""}>${s || "any"}</option>`)}</select></label>
<label>Type (or prefix.*)<input name="type" value="${filter.type ?? ""}" placeholder="order.*"></label>
<label>Source<input name="source" value="${filter.source ?? ""}"></label>
<label>Destination<input name="destination" value="${filter.destination ?? ""}"></label>
<label>From (UTC)<input type="datetime-local" name="from" value="${v(filter.from)}"></label>
<label>To (UTC)<input type="datetime-local" name="to" value="${v(filter.to)}"></label>
<label>Event id<input name="id" value="${filter.id ?? ""}"></label>
${filter.error ? html`<label>Error (exact)<input name="error" value="${filter.error}"></label>` : ""}
<div class="actions"><button type="submit">Filter</button><a href="${p.base}/events">Clear</a></div>
</form>
${canRetry ? html`<div class="actions"><a class="button secondary" id="bulk-retry" href="${p.base}/retry${filterQuery(filter)}">Retry the failed deliveries of all matching events…</a></div>` : ""}
<section id="events" data-live>
${page.events.length ? eventTable(p, page) : html`<p class="muted">No matching event${page.searched ? html` among events #${page.searched[1]} to #${Number(page.searched[0]) - 1}` : ""}.</p>`}
</section>
<nav class="pager">
<a href="${p.base}/events${filterQuery(filter)}">Newest</a>
${page.next ? html`<a id="older" href="${p.base}/events${filterQuery(filter, { cursor: page.next })}">${page.windowEnded ? "Search older events →" : "Older →"}</a>` : html`<span>Reached the oldest event.</span>`}
${page.windowEnded ? html`<span>This page searched events #${page.searched![1]} to #${Number(page.searched![0]) - 1}, 100,000 at a time; narrow the filter or search further.</span>` : ""}
</nav>`;
  // A page further down the list is left alone: refreshing it would move the rows under the operator.
  return layout(p, "/events", "Events", body, page.events.length && !filter.id ? 10 : 0);
}

function eventTable(p: PageContext, page: EventSearch): Html {
  return html`<div class="scroll"><table>
<thead><tr><th>Stored</th><th>Status</th><th>Type</th><th class="hide-narrow">Source</th><th>Id</th><th>Deliveries</th><th class="hide-narrow">Last error</th></tr></thead>
<tbody>${page.events.map((e) => html`<tr>
<td class="mono nowrap">${when(e.createdAt)}</td>
<td>${badge(e.status)}</td>
<td class="wrap">${clip(e.type, 120)}</td>
<td class="wrap hide-narrow">${clip(e.source, 120)}</td>
<td class="wrap mono"><a href="${eventPath(p.base, e.id, e.source)}">${clip(e.id, 80)}</a></td>
<td class="wrap">${e.deliveries.length ? e.deliveries.map((d) => html`<span class="badge s-${d.status}">${clip(d.name, 60)}: ${d.status}</span> `) : html`<span class="muted">${e.status === "published" ? "no destination" : "none yet"}</span>`}</td>
<td class="err hide-narrow">${clip(e.lastError, 160)}</td>
</tr>`)}</tbody></table></div>`;
}
