import type { MetricFamily } from "./registry.ts";

/** The media type of the Prometheus text exposition format this writer produces. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Writes metric families in the Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` lines, then
 * one line per sample; histograms as cumulative `_bucket{le=...}` lines plus `_sum` and `_count`.
 *
 * @example
 * ```ts
 * prometheusText([{ name: "pg_dispatch_backlog", help: "Events waiting.", kind: "gauge", samples: [{ labels: { destination: "audit" }, value: 3 }] }]);
 * // # HELP pg_dispatch_backlog Events waiting.\n# TYPE pg_dispatch_backlog gauge\npg_dispatch_backlog{destination="audit"} 3\n
 * ```
 */
export function prometheusText(families: readonly MetricFamily[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.kind}\n`;
    if (f.kind !== "histogram") {
      for (const s of f.samples) out += `${f.name}${labels(s.labels)} ${number(s.value)}\n`;
      continue;
    }
    for (const s of f.samples) {
      let cumulative = 0;
      for (let i = 0; i <= f.bounds.length; i++) {
        cumulative += s.counts[i];
        const le = i < f.bounds.length ? number(f.bounds[i]) : "+Inf";
        out += `${f.name}_bucket${labels(s.labels, le)} ${cumulative}\n`;
      }
      out += `${f.name}_sum${labels(s.labels)} ${number(s.sum)}\n`;
      out += `${f.name}_count${labels(s.labels)} ${s.count}\n`;
    }
  }
  return out;
}

function labels(values: Record<string, string>, le?: string): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (le !== undefined) parts.push(`le="${le}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

// The format's only escapes: in label values backslash, double quote and line feed; in HELP text backslash and line feed.
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

function number(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  return String(n);
}
