import { DispatchError } from "./errors.ts";
import type { NewEvent } from "./event.ts";

/**
 * How far ahead `scheduledAt` may be unless the outbox's `maxScheduleAheadMs` says otherwise: 366 days. A scheduled
 * event with an ordering key holds every later event of its key until it is delivered, so a far-off date (a typo,
 * seconds read as milliseconds, the year 9999) would hold its key for good.
 */
export const DEFAULT_MAX_SCHEDULE_AHEAD_MS = 366 * 24 * 60 * 60 * 1000;
/** The largest `maxScheduleAheadMs`: 100 years, which keeps every accepted time inside what PostgreSQL stores. */
export const MAX_SCHEDULE_AHEAD_MS = 100 * 366 * 24 * 60 * 60 * 1000;

/** Times as they reach PostgreSQL (ISO 8601, four-digit years): from year 1 to year 9999. */
const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * Refuses an event scheduled outside the times PostgreSQL stores, or further ahead than `maxAheadMs`.
 * A time in the past is fine: the event is due at once.
 */
export function assertSchedule(event: NewEvent, maxAheadMs: number): void {
  if (event.scheduled_at === null) return;
  const at = Date.parse(event.scheduled_at);
  if (!(at >= EARLIEST && at <= LATEST)) {
    throw new DispatchError(
      "invalid_option",
      `scheduledAt ${event.scheduled_at} is outside the years 1 to 9999; give a time within the next ${days(maxAheadMs)} days.`,
      { field: "scheduledAt" },
    );
  }
  if (at - Date.now() > maxAheadMs) {
    throw new DispatchError(
      "invalid_option",
      `scheduledAt ${event.scheduled_at} is more than ${days(maxAheadMs)} days ahead; schedule it nearer, or raise the outbox's maxScheduleAheadMs (${maxAheadMs}).`,
      { field: "scheduledAt" },
    );
  }
}

function days(ms: number): string {
  return String(Math.round((ms / 86_400_000) * 10) / 10);
}
