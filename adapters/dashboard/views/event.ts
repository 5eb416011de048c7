import { type AttemptRecord, type EventRecord, noDeliveries } from "../../../src/record.ts";
import { type Html, html, type Part } from "../html.ts";
import { badge, csrfField, layout, type PageContext, when } from "../layout.ts";
import { eventPath, filterQuery } from "../urls.ts";

/** The most of an event's data shown on its page; a larger payload is cut, and the page says so. */
const MAX_DATA_CHARS = 256 * 1024;

/** One event: every attribute, its data, each destination's state, and the retry buttons. */
export function eventPage(p: PageContext, e: EventRecord, notice: Html | null): Html {
  const here = eventPath(p.base, e.id, e.source);
  const failed = e.deliveries.filter((d) => d.status === "failed");
  const attrs: Array<[string, Part]> = [
    ["id", html`<span class="mono">${e.id}</span>`],
    ["source", e.source],
    ["type", html`<a href="${p.base}/events${filterQuery({ type: e.type })}">${e.type}</a>`],
    ["status", badge(e.status)],
    ["specversion", e.specversion],
    ["subject", e.subject],
    ["time", e.time],
    ["datacontenttype", e.datacontenttype],
    ["dataschema", e.dataschema],
    ...Object.entries(e.extensions).map(([k, v]): [string, Part] => [k, typeof v === "string" ? v : JSON.stringify(v)]),
    ["attempts", String(e.attempts)],
    ["max retries", e.maxRetries === null ? "default" : String(e.maxRetries)],
    ["ordering key", e.orderingKey],
    ["scheduled at", when(e.scheduledAt)],
    ["stored at", when(e.createdAt)],
    ["published at", when(e.publishedAt)],
    ["last error", e.lastError ? html`<span class="err">${e.lastError}</span>` : null],
  ];
  const data = e.data === undefined ? null : JSON.stringify(e.data, null, 2);
  const retryForm = (destination: string | null, label: string) =>
    html`<form class="inline" method="post" action="${p.base}/actions/retry">${csrfField(p)}<input type="hidden" name="id" value="${e.id}"><input type="hidden" name="source" value="${e.source}">${destination === null ? "" : html`<input type="hidden" name="destination" value="${destination}">`}<input type="hidden" name="back" value="${here}"><button type="submit">${label}</button></form>`;
  const body = html`
${notice}
<section id="event" data-live>
<dl class="attrs">${attrs.filter(([, v]) => v !== null && v !== "").map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h2>Deliveries</h2>
${e.deliveries.length ? html`<div class="scroll"><table id="deliveries">
<thead><tr><th>Destination</th><th>Status</th><th class="num">Attempts</th><th>Next attempt</th><th>Delivered at</th><th>Last error</th>${p.readOnly ? "" : html`<th></th>`}</tr></thead>
<tbody>${e.deliveries.map((d) => html`<tr data-destination="${d.name}">
<td class="wrap">${d.name}</td><td>${badge(d.status)}</td><td class="num">${d.attempts}</td>
<td class="mono">${when(d.nextAttemptAt)}</td><td class="mono">${when(d.deliveredAt)}</td>
<td class="err">${d.lastError}</td>
${p.readOnly ? "" : html`<td>${d.status === "failed" ? retryForm(d.name, "Retry") : ""}</td>`}
</tr>`)}</tbody></table></div>` : html`<p class="muted">${noDeliveries(e.status)}</p>`}
${!p.readOnly && failed.length > 1 ? html`<div class="actions">${retryForm(null, `Retry all ${failed.length} failed deliveries`)}</div>` : ""}
</section>
<h2>Attempt history</h2>
<section id="history" data-live>${historyTable(e.history ?? [])}</section>
<h2>Data</h2>
${data === null ? html`<p class="muted">No data.</p>` : html`<pre class="data">${data.length > MAX_DATA_CHARS ? data.slice(0, MAX_DATA_CHARS) : data}</pre>${data.length > MAX_DATA_CHARS ? html`<p class="muted">Showing the first ${MAX_DATA_CHARS.toLocaleString("en-US")} of ${data.length.toLocaleString("en-US")} characters.</p>` : ""}`}`;
  return layout(p, "/events", `Event ${e.type}`, body, e.status === "published" ? 0 : 5);
}

/** The most attempts the event page lists, newest first; the CLI's `status --json` and the router have them all. */
export const HISTORY_SHOWN = 50;

/** The attempt history, newest first: every value came from a destination or a worker, and is escaped by html``. */
function historyTable(history: AttemptRecord[]): Html {
  if (history.length === 0) return html`<p class="muted">No attempts recorded yet (or the worker records none: its history option is off).</p>`;
  const shown = history.slice(-HISTORY_SHOWN).reverse();
  return html`${history.length > shown.length ? html`<p class="muted" id="history-note">Showing the newest ${HISTORY_SHOWN} of ${history.length.toLocaleString("en-US")} attempts; <span class="mono">pg-dispatch status --json</span> and <span class="mono">GET /events/:id?history=true</span> have them all.</p>` : ""}<div class="scroll"><table id="attempts">
<thead><tr><th>When</th><th>Destination</th><th class="num">Attempt</th><th>Outcome</th><th class="num">Status</th><th class="num">Duration</th><th>Error</th></tr></thead>
<tbody>${shown.map((a) => html`<tr data-attempt-destination="${a.destination}" data-outcome="${a.outcome}">
<td class="mono">${when(a.startedAt)}</td><td class="wrap">${a.destination}</td><td class="num">${a.attempt}</td>
<td>${outcomeBadge(a.outcome)}</td>
<td class="num">${a.status === undefined ? "" : String(a.status)}</td><td class="num">${a.durationMs.toLocaleString("en-US")} ms</td>
<td class="err">${a.error ?? ""}</td>
</tr>`)}</tbody></table></div>`;
}

/** An attempt's outcome as a badge: delivered and failed in their colours, a retry as pending. */
function outcomeBadge(outcome: AttemptRecord["outcome"]): Html {
  // The class comes from this fixed list, never from the data.
  const colour = outcome === "delivered" ? "delivered" : outcome === "failed" ? "failed" : "pending";
  return html`<span class="badge s-${colour}">${outcome}</span>`;
}
