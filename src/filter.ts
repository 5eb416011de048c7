import { DispatchError } from "./errors.ts";
import { assertKnownKeys, optionsObject } from "./options.ts";
import { EVENT_STATUSES, type EventStatus } from "./record.ts";

/**
 * Which events an operator means: the filters of the dashboard's events page and of `retryEvents`. Every field
 * narrows; an empty filter means every event.
 *
 * @example
 * ```ts
 * const filter: EventFilter = { type: "order.*", destination: "billing", from: new Date(Date.now() - 3_600_000) };
 * ```
 */
export interface EventFilter {
  status?: EventStatus;
  /** One type, or a prefix written as registrations write it: `"order.*"` matches `order.created`. */
  type?: string;
  source?: string;
  /** Events with a delivery to this destination (for retries: whose delivery to it failed). */
  destination?: string;
  /** Events stored at or after this time. */
  from?: Date;
  /** Events stored before this time. */
  to?: Date;
  /** One event id (several sources may share it). */
  id?: string;
  /** Events with a failed delivery whose last error is exactly this text (the failures page links with it). */
  error?: string;
}

/** A filter checked and flattened for the store: every value a parameter, each null when absent. */
export interface StoreFilter {
  status: EventStatus | null;
  type: string | null;
  typePrefix: string | null;
  source: string | null;
  destination: string | null;
  from: Date | null;
  to: Date | null;
  id: string | null;
  error: string | null;
  /**
   * A regular expression the type must match: the type patterns a destination is registered for (a replay sends a
   * destination only the events it routes). Never from a caller's filter.
   */
  routed: string | null;
}

export const FILTER_KEYS = ["status", "type", "source", "destination", "from", "to", "id", "error"] as const;
const STATUSES: readonly string[] = EVENT_STATUSES;

/**
 * A type filter as registrations write it: one type, or a prefix ending in `*` (`"*"` alone matches every type).
 *
 * @example
 * ```ts
 * typeMatch("order.*"); // { type: null, typePrefix: "order." }
 * ```
 */
export function typeMatch(type: string | undefined): { type: string | null; typePrefix: string | null } {
  if (type === undefined) return { type: null, typePrefix: null };
  if (!type.endsWith("*")) return { type, typePrefix: null };
  return { type: null, typePrefix: type.length > 1 ? type.slice(0, -1) : null };
}

/**
 * Checks a filter where it enters (unknown keys, wrong types, an inverted time range) and flattens it.
 *
 * @example
 * ```ts
 * storeFilter({ type: "order.*" }, "retryEvents"); // { typePrefix: "order.", type: null, ... }
 * ```
 */
export function storeFilter(filter: EventFilter | undefined, where: string): StoreFilter {
  const f = optionsObject(filter, where);
  assertKnownKeys(f, FILTER_KEYS, `${where} filter`);
  if (f.status !== undefined && !STATUSES.includes(f.status)) {
    throw new DispatchError("invalid_option", `status must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(f.status)}.`, { field: "status" });
  }
  for (const key of ["type", "source", "destination", "id", "error"] as const) {
    const v = f[key];
    if (v !== undefined && (typeof v !== "string" || v.length === 0)) {
      throw new DispatchError("invalid_option", `${key} must be a non-empty string.`, { field: key });
    }
  }
  for (const key of ["from", "to"] as const) {
    const v = f[key];
    if (v !== undefined && (!(v instanceof Date) || Number.isNaN(v.getTime()))) {
      throw new DispatchError("invalid_option", `${key} must be a valid Date.`, { field: key });
    }
  }
  if (f.from && f.to && f.from >= f.to) {
    throw new DispatchError("invalid_option", "from must be earlier than to.", { field: "from" });
  }
  return {
    status: f.status ?? null,
    ...typeMatch(f.type),
    source: f.source ?? null,
    destination: f.destination ?? null,
    from: f.from ?? null,
    to: f.to ?? null,
    id: f.id ?? null,
    error: f.error ?? null,
    routed: null,
  };
}
