import type { Backlog, FailureGroup, MinuteCount, StatusCounts } from "../../../src/reader.ts";
import { throughputChart } from "../chart.ts";
import { clip, type Html, html } from "../html.ts";
import { age, count, layout, type PageContext } from "../layout.ts";
import { filterQuery } from "../urls.ts";

/** What the overview shows. */
export interface OverviewData {
  counts: StatusCounts;
  minutes: MinuteCount[];
  backlog: { destinations: Backlog[]; capped: boolean };
  failures: { groups: FailureGroup[]; capped: boolean };
  now: Date;
}

/** Counts by status, the last hour's chart, what needs attention, and the backlog per destination. */
export function overviewPage(p: PageContext, d: OverviewData): Html {
  const c = d.counts;
  const card = (label: string, n: number, status: string, approx = false) =>
    html`<a class="card ${status}" href="${p.base}/events${filterQuery({ status: status as never })}"><div class="n">${approx ? "≈" : ""}${count(n, c.capped && status !== "published")}</div><div class="label">${label}</div></a>`;
  const stale = d.backlog.destinations.filter((b) => d.now.getTime() - b.oldest.getTime() > 5 * 60_000);
  const attention = [
    ...d.failures.groups.slice(0, 5).map((g) =>
      html`<li><span class="badge s-failed">${count(g.count, d.failures.capped)} failed</span> at <strong>${g.destination}</strong>: <span class="err">${clip(g.error, 160)}</span> · <a href="${p.base}/events${filterQuery({ status: "failed", destination: g.destination, error: g.error })}">events</a></li>`
    ),
    ...stale.map((b) =>
      html`<li><span class="badge s-pending">waiting ${age(d.now.getTime() - b.oldest.getTime())}</span> ${b.destination ? html`<strong>${b.destination}</strong>` : "events not attempted yet"}: ${count(b.waiting, d.backlog.capped)} waiting</li>`
    ),
  ];
  const body = html`
<section id="counts" data-live>
<div class="cards">
${card("Pending", c.pending, "pending")}${card("Processing", c.processing, "processing")}${card("Failed", c.failed, "failed")}${card("Published", c.published, "published", c.estimated)}
<div class="card"><div class="n">${c.estimated ? "≈" : ""}${count(c.total)}</div><div class="label">Events stored</div></div>
</div>
</section>
<h2>Published and failed per minute</h2>
${throughputChart(d.minutes)}
<section id="attention" data-live>
<h2>Needs attention</h2>
${attention.length ? html`<ul>${attention}</ul>` : html`<p class="muted">Nothing failed among the newest failures, and no destination has waited more than 5 minutes.</p>`}
</section>
<section id="backlog" data-live>
<h2>Backlog per destination</h2>
${backlogTable(p, d.backlog, d.now)}
</section>`;
  return layout(p, "", "Overview", body, 10);
}

/** Waiting events per destination, oldest first. */
export function backlogTable(p: PageContext, b: { destinations: Backlog[]; capped: boolean }, now: Date): Html {
  if (!b.destinations.length) return html`<p class="muted">No event is waiting.</p>`;
  const rows = [...b.destinations].sort((x, y) => x.oldest.getTime() - y.oldest.getTime());
  return html`<div class="scroll"><table>
<thead><tr><th>Destination</th><th class="num">Waiting</th><th class="num">Oldest waiting</th></tr></thead>
<tbody>${rows.map((r) => html`<tr>
<td class="wrap">${r.destination ? html`<a href="${p.base}/events${filterQuery({ destination: r.destination })}">${r.destination}</a>` : html`<span class="muted">not attempted yet</span>`}</td>
<td class="num">${count(r.waiting, b.capped)}</td><td class="num">${age(now.getTime() - r.oldest.getTime())}</td></tr>`)}</tbody>
</table></div>${b.capped ? html`<p class="muted">Counted among the oldest 10,000 waiting events.</p>` : ""}`;
}
