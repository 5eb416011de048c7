import type { EventFilter } from "../../src/filter.ts";
import { FILTER_KEYS } from "../../src/filter.ts";
import { EVENT_STATUSES, type EventStatus } from "../../src/record.ts";

/**
 * Filters in the URL (`?status=failed&type=order.*&from=2026-01-01T00:00`), so a filtered view can be shared.
 * Times are UTC, as `datetime-local` inputs send them (no zone) or as full ISO 8601.
 */
export function filterFromQuery(query: URLSearchParams): { filter: EventFilter; problems: string[] } {
  const filter: EventFilter = {};
  const problems: string[] = [];
  for (const key of FILTER_KEYS) {
    const value = query.get(key)?.trim();
    if (!value) continue;
    if (key === "status") {
      if ((EVENT_STATUSES as readonly string[]).includes(value)) filter.status = value as EventStatus;
      else problems.push(`status must be one of ${EVENT_STATUSES.join(", ")}.`);
    } else if (key === "from" || key === "to") {
      const date = parseTime(value);
      if (date) filter[key] = date;
      else problems.push(`${key} must be a date and time such as 2026-01-31T13:45 (UTC).`);
    } else {
      filter[key] = value;
    }
  }
  if (filter.from && filter.to && filter.from >= filter.to) {
    problems.push("from must be earlier than to.");
    delete filter.to;
  }
  return { filter, problems };
}

function parseTime(value: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(value)) return null;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value.length === 10 ? `${value}T00:00` : value}Z`;
  const date = new Date(zoned.replace(" ", "T"));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The query string of a filter (and any extra parameters), as the events page reads it back. */
export function filterQuery(filter: EventFilter, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const v = filter[key];
    if (v === undefined) continue;
    q.set(key, v instanceof Date ? v.toISOString().slice(0, 19) : v);
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** The address of one event's page. */
export function eventPath(base: string, id: string, source: string): string {
  return `${base}/event?${new URLSearchParams({ id, source })}`;
}

/** The overview's address: the mount path itself (Hono matches it without a trailing slash), or "/" at the root. */
export function home(base: string): string {
  return base || "/";
}

/** A path back into the dashboard from a form field, or the overview: never another site (`//evil`, `https:`). */
export function safeReturn(base: string, value: unknown): string {
  if (typeof value !== "string" || value.startsWith("//") || /[\\\s]/.test(value)) return home(base);
  if (value === home(base) || value.startsWith(`${base}/`)) return value;
  return home(base);
}
