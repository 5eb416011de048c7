import { type FailureGroup, READ_BOUNDS } from "../../../src/reader.ts";
import { clip, type Html, html } from "../html.ts";
import { count, layout, type PageContext, when } from "../layout.ts";
import { eventPath, filterQuery } from "../urls.ts";

/** Failed deliveries grouped by destination and error, most frequent first. */
export function failuresPage(p: PageContext, f: { groups: FailureGroup[]; capped: boolean }): Html {
  const body = html`
<section id="failures" data-live>
${f.groups.length ? html`<div class="scroll"><table>
<thead><tr><th>Destination</th><th>Error</th><th class="num">Events</th><th>Newest</th><th></th></tr></thead>
<tbody>${f.groups.map((g) => {
    const filter = { status: "failed" as const, destination: g.destination, error: g.error };
    return html`<tr>
<td class="wrap">${g.destination}</td>
<td class="err">${clip(g.error, 500)}</td>
<td class="num">${count(g.count, f.capped)}</td>
<td class="mono"><a href="${eventPath(p.base, g.example.id, g.example.source)}">${when(g.example.createdAt)}</a></td>
<td><a href="${p.base}/events${filterQuery(filter)}">Events</a>${p.readOnly ? "" : html` · <a href="${p.base}/retry${filterQuery(filter)}">Retry…</a>`}</td>
</tr>`;
  })}</tbody></table></div>` : html`<p class="muted">No failed deliveries.</p>`}
${f.capped ? html`<p class="muted">Grouped among the newest ${READ_BOUNDS.failures.toLocaleString("en-US")} failed events.</p>` : ""}
</section>`;
  return layout(p, "/failures", "Failures", body, 10);
}
