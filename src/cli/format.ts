import type { EventPage } from "../outbox.ts";
import { type AttemptRecord, type EventRecord, noDeliveries } from "../record.ts";
import type { Stats } from "../store/stats.ts";
import { CONTROL_CHARACTERS, storable } from "../text.ts";

/**
 * Text shown to a person on a terminal, with every control character made visible (`\x1b`, `\n`): ids, types,
 * subjects and errors come from publishers and remote receivers, and an escape sequence printed raw can retitle the
 * terminal, erase lines or write the clipboard (OSC 52). Every human-readable line the CLI prints goes through it;
 * JSON output does not need it.
 *
 * @example
 * ```ts
 * printable("boom\u001b[2J"); // "boom\\x1b[2J"
 * ```
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r" };

/** Aligns rows under a header; the last column is left ragged. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** One event and its deliveries, as `pg-dispatch status` prints it. */
export function formatEvent(e: EventRecord, now = Date.now()): string {
  const facts: [string, string][] = [
    ["id", printable(e.id)],
    ["type", printable(e.type)],
    ["source", printable(e.source)],
    ["status", e.status],
    ["attempts", String(e.attempts) + (e.maxRetries === null ? "" : ` (max retries ${e.maxRetries})`)],
    ["created", when(e.createdAt, now)],
  ];
  if (e.subject) facts.push(["subject", printable(e.subject)]);
  if (e.scheduledAt) facts.push(["scheduled", when(e.scheduledAt, now)]);
  if (e.orderingKey) facts.push(["ordering key", printable(e.orderingKey)]);
  if (e.publishedAt) facts.push(["published", when(e.publishedAt, now)]);
  // One event: its error whole, line by line under the label; only lists of many events cut it.
  if (e.lastError) facts.push(["last error", e.lastError.split(/\r?\n/).map(printable).join(`\n${" ".repeat(14)}`)]);
  const head = facts.map(([k, v]) => `${(k + ":").padEnd(14)}${v}`).join("\n");
  if (e.deliveries.length === 0) return `${head}\n\n${noDeliveries(e.status)}`;
  const rows = e.deliveries.map((d) => [
    printable(d.name),
    d.status,
    String(d.attempts),
    d.status === "delivered" ? when(d.deliveredAt, now) : d.status === "pending" ? when(d.nextAttemptAt, now, "due now") : "-",
    // The last column: a long error runs on without breaking the alignment, so it is shown whole, on one line.
    d.lastError ? clip(d.lastError, Infinity) : "-",
  ]);
  const deliveries = table(["DESTINATION", "STATUS", "ATTEMPTS", "DELIVERED / NEXT ATTEMPT", "LAST ERROR"], rows);
  return e.history ? `${head}\n\n${deliveries}\n\n${formatHistory(e.history, now)}` : `${head}\n\n${deliveries}`;
}

/** The most attempts the human form of `status` lists; `--json` has every one the history read returned. */
export const HISTORY_SHOWN = 20;

/**
 * The attempt history as a table, the newest {@link HISTORY_SHOWN} attempts, oldest first. Each error is cut to
 * one line: the deliveries table above holds the last one whole.
 */
export function formatHistory(history: AttemptRecord[], now = Date.now()): string {
  if (history.length === 0) return "No attempts recorded.";
  const shown = history.slice(-HISTORY_SHOWN);
  const rows = shown.map((a) => [
    when(a.startedAt, now),
    printable(a.destination),
    String(a.attempt),
    a.outcome,
    a.status === undefined ? "-" : String(a.status),
    duration(a.durationMs),
    a.error ? clip(a.error, 100) : "-",
  ]);
  const earlier = history.length - shown.length;
  const title = earlier > 0 ? `Attempts (the newest ${shown.length} of ${history.length}; --json has them all):` : "Attempts:";
  return `${title}\n${table(["WHEN", "DESTINATION", "ATTEMPT", "OUTCOME", "STATUS", "DURATION", "ERROR"], rows)}`;
}

/** A page of events as a table, with the command for the next page. */
export function formatEvents(page: EventPage, nextCommand: (cursor: string) => string, now = Date.now()): string {
  if (page.events.length === 0) return "No events.";
  const rows = page.events.map((e) => [
    printable(e.id),
    printable(e.type),
    printable(e.source),
    e.status,
    String(e.attempts),
    when(e.createdAt, now),
    e.lastError ? clip(e.lastError, 60) : "-",
  ]);
  const out = table(["ID", "TYPE", "SOURCE", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR"], rows);
  return page.nextCursor ? `${out}\n\nMore: ${nextCommand(page.nextCursor)}` : out;
}

/** Counts by status and the backlog's age. */
export function formatStats(s: Stats): string {
  const rows: [string, string][] = [
    ["pending", String(s.pending)],
    ["processing", String(s.processing)],
    ["published", String(s.published)],
    ["failed", String(s.failed)],
    ["oldest due", s.oldestDueAgeMs > 0 ? `${duration(s.oldestDueAgeMs)} ago` : "nothing due"],
  ];
  return rows.map(([k, v]) => `${(k + ":").padEnd(12)}${v}`).join("\n");
}

/** `2024-05-01 12:00:00Z (3m ago)`: absolute for logs and tickets, relative for the reader. */
export function when(date: Date | null, now = Date.now(), absent = "-"): string {
  if (!date) return absent;
  const iso = date.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
  const delta = date.getTime() - now;
  if (Math.abs(delta) < 1000) return `${iso} (now)`;
  return delta > 0 ? `${iso} (in ${duration(delta)})` : `${iso} (${duration(-delta)} ago)`;
}

const UNITS: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];

/** 950 -> "950ms", 65000 -> "1m 5s", 90000000 -> "1d 1h": the two largest units. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [size, unit] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n || parts.length) parts.push(`${n}${unit}`);
  }
  return parts.join(" ");
}

/** One line, cut between code points to at most `max` characters before escaping, control characters made visible. */
export function clip(text: string, max: number): string {
  return printable(storable(text.replace(/\s+/g, " ").trim(), max));
}
