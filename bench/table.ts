// The results table: one row per figure, one column per peer, the ratios and whether the target is met.

/** Peer names, in column order. */
export const D = "pg-dispatch";
export const G = "graphile-worker";
export const B = "pg-boss";
export const R = "raw SQL";

/** One figure's medians by peer name. */
export type Values = Record<string, number>;

/** A row of the table. */
export interface RowSpec {
  key: string;
  label: string;
  unit: string;
  /** "up": more is better (ratio pg-dispatch / peer); "down": less is better. */
  better: "up" | "down" | "none";
  target: string;
  met?: (v: Values) => boolean;
}

/** Formats the rows as a Markdown table. */
export function table(rows: RowSpec[], medians: Map<string, Values>): string {
  const lines = [
    `| figure | unit | ${D} | ${G} | ${B} | ${R} | ${D} / ${G} | ${D} / ${B} | ${D} / ${R} | target | met |`,
    "|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|",
  ];
  for (const row of rows) {
    const v = medians.get(row.key);
    if (!v) continue;
    const ratio = (peer: string): string => {
      const x = v[D] / v[peer];
      return row.better === "none" || !Number.isFinite(x) ? "-" : `${x.toFixed(2)}x`;
    };
    const met = !row.met ? "-" : [D, G, B, R].some((p) => p in v && Number.isNaN(v[p])) ? "?" : row.met(v) ? "yes" : "**no**";
    lines.push(`| ${row.label} | ${row.unit} | ${num(v[D])} | ${num(v[G])} | ${num(v[B])} | ${num(v[R])} | ${ratio(G)} | ${ratio(B)} | ${ratio(R)} | ${row.target} | ${met} |`);
  }
  return lines.join("\n");
}

function num(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return "-";
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US");
  return x.toFixed(2);
}
