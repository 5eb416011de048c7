import type { MinuteCount } from "../../src/reader.ts";
import { type Html, html } from "./html.ts";

/**
 * Published and failed events per minute over the last hour, as inline SVG drawn on the server: no script, no
 * chart library, and it renders under a CSP that allows no inline script. Bars stack failed on published.
 */
export function throughputChart(minutes: MinuteCount[]): Html {
  const w = 720, h = 180, left = 40, bottom = 22, top = 10;
  const peak = Math.max(1, ...minutes.map((m) => m.published + m.failed));
  const scale = niceCeiling(peak);
  const plotH = h - top - bottom;
  const slot = (w - left) / minutes.length;
  const bars = minutes.map((m, i) => {
    const x = left + i * slot + 1;
    const okH = (m.published / scale) * plotH;
    const badH = (m.failed / scale) * plotH;
    const label = `${m.minutesAgo} min ago: ${m.published} published, ${m.failed} failed`;
    return html`<g><title>${label}</title>${okH > 0 ? html`<rect class="bar-ok" x="${x.toFixed(1)}" y="${(top + plotH - okH).toFixed(1)}" width="${(slot - 2).toFixed(1)}" height="${okH.toFixed(1)}"/>` : ""}${badH > 0 ? html`<rect class="bar-bad" x="${x.toFixed(1)}" y="${(top + plotH - okH - badH).toFixed(1)}" width="${(slot - 2).toFixed(1)}" height="${badH.toFixed(1)}"/>` : ""}</g>`;
  });
  const totals = minutes.reduce((t, m) => ({ published: t.published + m.published, failed: t.failed + m.failed }), { published: 0, failed: 0 });
  return html`<figure class="chart" id="chart" data-live>
<svg viewBox="0 0 ${w} ${h}" role="img" aria-labelledby="chart-title">
<title id="chart-title">Events per minute over the last hour: ${totals.published} published, ${totals.failed} failed</title>
<line class="axis" x1="${left}" y1="${top + plotH}" x2="${w}" y2="${top + plotH}"/>
<line class="axis" x1="${left}" y1="${top}" x2="${w}" y2="${top}"/>
<text x="${left - 6}" y="${top + 4}" text-anchor="end">${scale}</text>
<text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>
<text x="${left}" y="${h - 6}">60 min ago</text>
<text x="${(left + w) / 2}" y="${h - 6}" text-anchor="middle">30 min ago</text>
<text x="${w}" y="${h - 6}" text-anchor="end">now</text>
${bars}
</svg>
<figcaption class="legend"><span class="ok">published ${totals.published.toLocaleString("en-US")}</span><span class="bad">failed ${totals.failed.toLocaleString("en-US")}</span><span>per minute, last hour</span></figcaption>
</figure>`;
}

function niceCeiling(n: number): number {
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (n <= step * power) return step * power;
  return 10 * power;
}
