import { toQuery, type Query } from "./client.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { type EventFilter, storeFilter } from "./filter.ts";
import { type EventRecord, toRecord } from "./record.ts";
import type { Schema } from "./schema.ts";
import type { Sql } from "postgres";
import { backlog, type Backlog } from "./store/backlog.ts";
import { readControls, type SharedCircuit } from "./store/circuits.ts";
import { destinationHealth, type DestinationHealth } from "./store/destination-health.ts";
import { search } from "./store/event-search.ts";
import { seqAtTime } from "./store/seek-time.ts";
import { failureGroups, type FailureGroup } from "./store/failure-groups.ts";
import { type DestinationRoute, replayScope } from "./replay-scope.ts";
import { countReplayRecent } from "./store/replay-events.ts";
import { countRetry } from "./store/retry-count.ts";
import { statusCounts, type StatusCounts } from "./store/status-counts.ts";
import { type MinuteCount, throughput } from "./store/throughput.ts";

export type { Backlog, DestinationHealth, FailureGroup, MinuteCount, StatusCounts };

/** How far each bounded read looks; every page of the dashboard costs at most this much, whatever the table holds. */
export const READ_BOUNDS = {
  /** Rows counted per status before a count says "at least". */
  counts: 10_000,
  /** Oldest unfinished events read for the backlog. */
  backlog: 10_000,
  /** Events finished in the last hour read for destination health (of each kind). */
  health: 20_000,
  /**
   * Newest failed events grouped on the failures page. Failed events lie scattered across the table, so each is a
   * page read of its own; bench/RESULTS.md has what 10,000 cost from a cold cache on a 1,000,000-event table.
   */
  failures: 5_000,
  /** Newest failed events the overview's "needs attention" list groups. */
  attention: 1_000,
  /** Sequence numbers searched per page of the events list. */
  searchWindow: 100_000,
} as const;

/** How much later than a range's end the events list starts looking: longer than a publishing transaction stays open. */
const SEEK_MARGIN_MS = 15 * 60_000;

/** An event as the events list shows it: everything but its data and CloudEvent extras. */
export type EventSummary =
  & Pick<EventRecord, "id" | "source" | "type" | "subject" | "status" | "attempts" | "lastError" | "deliveries" | "createdAt" | "publishedAt">
  & { seq: string };

/** A page of the events list. */
export interface EventSearch {
  events: EventSummary[];
  /** The cursor of the next page, or null when the search reached the oldest event. */
  next: string | null;
  /** True when the page ended because the search window did, not because it filled: look further with `next`. */
  windowEnded: boolean;
  /** The sequence numbers this page searched, newest first: [top, bottom). */
  searched: [string, string] | null;
}

/**
 * Bounded read queries over an outbox's table for operators' tools (the dashboard): each reads through a partial
 * index or a bounded window, so none of them counts or scans the whole table. Works from any process, including one
 * that registered no destinations: everything comes from the database.
 *
 * @example
 * ```ts
 * const reader = new OutboxReader(outbox);
 * const { groups } = await reader.failures();
 * ```
 */
export class OutboxReader {
  readonly #query: Query;
  readonly #schema: Schema;

  constructor(outbox: { sql: Sql; schema: Schema }) {
    this.#query = toQuery(outbox.sql);
    this.#schema = outbox.schema;
  }

  /** Counts by status (bounded; see {@link READ_BOUNDS}). */
  async counts(): Promise<StatusCounts> {
    return await statusCounts(this.#query, this.#schema, READ_BOUNDS.counts);
  }

  /** Published and failed events per minute over the last hour, oldest minute first. */
  async throughput(): Promise<MinuteCount[]> {
    return await throughput(this.#query, this.#schema);
  }

  /** Waiting events per destination and the oldest one's age; the empty name means "not attempted yet". */
  async backlog(): Promise<{ destinations: Backlog[]; capped: boolean }> {
    return await backlog(this.#query, this.#schema, READ_BOUNDS.backlog);
  }

  /** Destinations whose circuit a worker opened (shared by every worker), with how much longer each rests. */
  async openCircuits(): Promise<SharedCircuit[]> {
    return (await readControls(this.#query, this.#schema)).open;
  }

  /** Delivered and failed per destination over the last hour, and every destination of the newest events. */
  async health(): Promise<{ destinations: DestinationHealth[]; capped: boolean }> {
    return await destinationHealth(this.#query, this.#schema, READ_BOUNDS.health);
  }

  /** Failed deliveries grouped by destination and error, most frequent first, among the newest `max` failed events. */
  async failures(groups = 100, max: number = READ_BOUNDS.failures): Promise<{ groups: FailureGroup[]; capped: boolean }> {
    return await failureGroups(this.#query, this.#schema, max, groups);
  }

  /** A page of events matching `filter`, newest first; pass `next` back as `cursor` for the page after. */
  async search(filter: EventFilter, options: { cursor?: string; limit?: number } = {}): Promise<EventSearch> {
    const f = storeFilter(filter, "search");
    const limit = options.limit ?? 50;
    let before = options.cursor === undefined ? null : decodeCursor(options.cursor);
    if (before === null && f.to !== null && f.id === null) {
      // Start the first window where the range ends, not at the newest event. The margin covers events whose
      // transaction began (created_at) a while before it committed (seq); see store/seek-time.ts.
      before = await seqAtTime(this.#query, this.#schema, new Date(f.to.getTime() + SEEK_MARGIN_MS));
    }
    const { rows, windowTop } = await search(this.#query, this.#schema, f, before, limit, READ_BOUNDS.searchWindow);
    const events = rows.map((row): EventSummary => {
      const r = toRecord(row);
      return {
        seq: String(row.seq), id: r.id, source: r.source, type: r.type, subject: r.subject, status: r.status, attempts: r.attempts,
        lastError: r.lastError, deliveries: r.deliveries, createdAt: r.createdAt, publishedAt: r.publishedAt,
      };
    });
    if (windowTop === null) return { events, next: null, windowEnded: false, searched: null };
    const bottom = f.id === null ? Math.max(1, Number(windowTop) - READ_BOUNDS.searchWindow) : 1;
    if (events.length === limit) {
      return { events, next: encodeCursor(events[events.length - 1].seq), windowEnded: false, searched: [windowTop, String(bottom)] };
    }
    // The window is exhausted: the next page searches the window below it, until the first event.
    return {
      events,
      next: bottom > 1 ? encodeCursor(String(bottom)) : null,
      windowEnded: bottom > 1,
      searched: [windowTop, String(bottom)],
    };
  }

  /** How many events a bulk retry with this filter would touch, counting at most `max`. */
  async retryCount(filter: EventFilter, max: number = READ_BOUNDS.counts): Promise<number> {
    return await countRetry(this.#query, this.#schema, storeFilter(filter, "retryCount"), max);
  }

  /**
   * How many finished events a replay with this filter to `destination` would make due (see {@link replayScope}:
   * `routes` are the destinations the replaying process registers), among the newest `READ_BOUNDS.searchWindow`
   * events, counting at most `max`; `partial` is true when the table holds older events the count did not look at.
   * Throws the replay's own DispatchError for a destination it would refuse.
   */
  async replayCount(
    filter: EventFilter,
    destination: string,
    routes: readonly DestinationRoute[],
    max: number = READ_BOUNDS.counts,
  ): Promise<{ n: number; partial: boolean }> {
    const scope = replayScope(storeFilter(filter, "replayCount"), destination, routes);
    return await countReplayRecent(this.#query, this.#schema, scope, max, READ_BOUNDS.searchWindow);
  }
}
