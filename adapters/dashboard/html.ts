// HTML built from strings, safely: everything interpolated into the `html` template is escaped by the one helper
// below unless it is already Html (built by this template). Producers and remote endpoints wrote most of what the
// dashboard shows (type, source, subject, data, lastError), so nothing reaches the page any other way.
import { CONTROL_CHARACTERS, storable } from "../../src/text.ts";

/** A fragment of markup built by {@link html}; only such fragments are inserted unescaped. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Bidirectional overrides and isolates: they can make text read backwards ("txt.exe" shown as "exe.txt"). */
const BIDI = /[\u202A-\u202E\u2066-\u2069]/g;

/**
 * The one escape helper: text safe in element content and in quoted attribute values. Control characters (other
 * than newline and tab) and bidi overrides are shown as visible code points, e.g. `\u001b` as "⟨U+001B⟩", so that
 * what an endpoint sent can be read, not acted on.
 *
 * @example
 * ```ts
 * escapeHtml(`<img src=x onerror="alert(1)">`); // "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/[&<>"']/g, (c) => ENTITIES[c])
    .replace(CONTROL_CHARACTERS, (c) => (c === "\n" ? c : codePoint(c)))
    .replace(BIDI, codePoint);
}

function codePoint(c: string): string {
  return `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/** A value the template accepts: text (escaped), Html (kept), nothing (empty), or a list of those. */
export type Part = Html | string | number | null | undefined | false | Part[];

/**
 * The template tag for markup: `html\`<td>${event.type}</td>\`` escapes `event.type`.
 *
 * @example
 * ```ts
 * html`<a href="${url}">${label}</a>`;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

function render(value: Part): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(value);
}

/** Long outside text cut for a table cell (between code points, ending in "…"); the event page shows it whole. */
export function clip(text: string | null | undefined, max = 200): string {
  return text == null ? "" : storable(text, max);
}
