import type { Backlog, DestinationHealth } from "../../../src/reader.ts";
import { type Html, html } from "../html.ts";
import { age, count, layout, type PageContext } from "../layout.ts";
import { filterQuery } from "../urls.ts";

/** What the destinations page merges: outcomes of the last hour, the backlog, and this process's registrations. */
export interface DestinationsData {
  health: { destinations: DestinationHealth[]; capped: boolean };
  backlog: { destinations: Backlog[]; capped: boolean };
  registered: string[];
  now: Date;
}

/** Every destination seen in the data (or registered here), with its health. */
export function destinationsPage(p: PageContext, d: DestinationsData): Html {
  const names = new Set<string>([...d.registered, ...d.health.destinations.map((h) => h.destination), ...d.backlog.destinations.map((b) => b.destination).filter(Boolean)]);
  const rows = [...names].sort().map((name) => ({
    name,
    health: d.health.destinations.find((h) => h.destination === name),
    backlog: d.backlog.destinations.find((b) => b.destination === name),
  }));
  const unrouted = d.backlog.destinations.find((b) => b.destination === "");
  const body = html`
<section id="destinations" data-live>
${rows.length ? html`<div class="scroll"><table>
<thead><tr><th>Destination</th><th class="num">Delivered (1 h)</th><th class="num">Failed (1 h)</th><th class="num">Waiting</th><th class="num">Oldest waiting</th><th>Controls</th></tr></thead>
<tbody>${rows.map((r) => html`<tr data-destination="${r.name}">
<td class="wrap"><a href="${p.base}/events${filterQuery({ destination: r.name })}">${r.name}</a></td>
<td class="num">${count(r.health?.delivered ?? 0, d.health.capped)}</td>
<td class="num">${r.health?.failed ? html`<a href="${p.base}/events${filterQuery({ status: "failed", destination: r.name })}">${count(r.health.failed, d.health.capped)}</a>` : "0"}</td>
<td class="num">${count(r.backlog?.waiting ?? 0, d.backlog.capped)}</td>
<td class="num">${r.backlog ? age(d.now.getTime() - r.backlog.oldest.getTime()) : ""}</td>
<td>${controls(p, r.name)}</td>
</tr>`)}</tbody></table></div>` : html`<p class="muted">No destination appears in the recent events yet.</p>`}
${unrouted ? html`<p>${count(unrouted.waiting, d.backlog.capped)} events wait for their first attempt (oldest ${age(d.now.getTime() - unrouted.oldest.getTime())}); their destinations are known once a worker takes them.</p>` : ""}
<p class="muted">Destinations come from the data: those that delivered or failed in the last hour, those with events waiting, those of the newest 1,000 events, and those registered in this process.</p>
</section>`;
  return layout(p, "/destinations", "Destinations", body, 10);
}

/**
 * The destination's controls. Pausing and resuming a destination is not part of this outbox yet; when it is, its
 * buttons go here (POST forms with the CSRF field, hidden when read-only).
 */
function controls(_p: PageContext, _name: string): Html {
  return html`<span class="muted">—</span>`;
}
