import type { Backlog, DestinationHealth } from "../../../src/reader.ts";
import type { SharedCircuit } from "../../../src/store/circuits.ts";
import { type Html, html } from "../html.ts";
import { age, count, csrfField, layout, type PageContext, when } from "../layout.ts";
import { filterQuery } from "../urls.ts";

/** What the destinations page merges: outcomes of the last hour, the backlog, and this process's registrations. */
export interface DestinationsData {
  health: { destinations: DestinationHealth[]; capped: boolean };
  backlog: { destinations: Backlog[]; capped: boolean };
  registered: string[];
  /** Paused destinations (shared by every worker), with when each was paused. */
  paused: Array<{ name: string; pausedAt: Date }>;
  /** Destinations resting because a worker's circuit breaker opened (shared by every worker). */
  circuits: SharedCircuit[];
  now: Date;
}

/** Every destination seen in the data (or registered here), with its health. */
export function destinationsPage(p: PageContext, d: DestinationsData, notice: Html | null = null): Html {
  const names = new Set<string>([...d.registered, ...d.paused.map((x) => x.name), ...d.circuits.map((c) => c.name), ...d.health.destinations.map((h) => h.destination), ...d.backlog.destinations.map((b) => b.destination).filter(Boolean)]);
  const rows = [...names].sort().map((name) => ({
    name,
    health: d.health.destinations.find((h) => h.destination === name),
    backlog: d.backlog.destinations.find((b) => b.destination === name),
  }));
  const unrouted = d.backlog.destinations.find((b) => b.destination === "");
  const body = html`
${notice}
<section id="destinations" data-live>
${rows.length ? html`<div class="scroll"><table>
<thead><tr><th>Destination</th><th class="num">Delivered (1 h)</th><th class="num">Failed (1 h)</th><th class="num">Waiting</th><th class="num">Oldest waiting</th><th>Controls</th></tr></thead>
<tbody>${rows.map((r) => html`<tr data-destination="${r.name}">
<td class="wrap"><a href="${p.base}/events${filterQuery({ destination: r.name })}">${r.name}</a></td>
<td class="num">${count(r.health?.delivered ?? 0, d.health.capped)}</td>
<td class="num">${r.health?.failed ? html`<a href="${p.base}/events${filterQuery({ status: "failed", destination: r.name })}">${count(r.health.failed, d.health.capped)}</a>` : "0"}</td>
<td class="num">${count(r.backlog?.waiting ?? 0, d.backlog.capped)}</td>
<td class="num">${r.backlog ? age(d.now.getTime() - r.backlog.oldest.getTime()) : ""}</td>
<td>${resting(d.circuits.find((c) => c.name === r.name))}${controls(p, r.name, d.paused.find((x) => x.name === r.name)?.pausedAt ?? null)}</td>
</tr>`)}</tbody></table></div>` : html`<p class="muted">No destination appears in the recent events yet.</p>`}
${unrouted ? html`<p>${count(unrouted.waiting, d.backlog.capped)} events wait for their first attempt (oldest ${age(d.now.getTime() - unrouted.oldest.getTime())}); their destinations are known once a worker takes them.</p>` : ""}
<p class="muted">Destinations come from the data: those that delivered or failed in the last hour, those with events waiting, those of the newest 1,000 events, and those registered in this process.</p>
</section>`;
  return layout(p, "/destinations", "Destinations", body, 10);
}

/** A destination whose circuit is open: every worker rests it, without using attempts, until a trial. */
function resting(circuit: SharedCircuit | undefined): Html | string {
  if (!circuit) return "";
  return html`<span class="badge s-failed circuit" title="After failures in a row, no worker attempts it until the cooldown ends and a trial attempt succeeds">circuit open</span> <span class="muted">trial in ${age(circuit.openMs)}</span> `;
}

/**
 * The destination's state and controls: paused (since when) or running, the button that flips it — a POST form with
 * the CSRF field — and the link to a replay; the controls are left out on a read-only dashboard (which refuses the
 * POSTs anyway).
 */
function controls(p: PageContext, name: string, pausedAt: Date | null): Html {
  const state = pausedAt ? html`<span class="badge s-pending paused">paused</span> <span class="muted mono">since ${when(pausedAt)}</span>` : html`<span class="muted">running</span>`;
  if (p.readOnly) return state;
  const verb = pausedAt ? "resume" : "pause";
  return html`${state} <form class="inline" method="post" action="${p.base}/actions/${verb}">${csrfField(p)}<input type="hidden" name="name" value="${name}"><button type="submit" class="${pausedAt ? "" : "secondary"}">${pausedAt ? "Resume" : "Pause"}</button></form> <a class="replay" href="${p.base}/replay${filterQuery({ destination: name })}">Replay…</a>`;
}
