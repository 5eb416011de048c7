// The end-of-scenario audit: what the database says against what the receivers saw.
import type { Sql } from "postgres";
import { expect } from "vitest";
import type { Receiver } from "./receiver.ts";

/** Figures of one scenario, printed as one summary line. */
export interface Audit {
  /** Events in the table. */
  published: number;
  /** Events every destination accepted (2xx seen by the receiver) and the database records as delivered everywhere. */
  delivered: number;
  /** Requests beyond the first accepted one per (event, destination). */
  duplicates: number;
  /** (event, destination) pairs the receiver never accepted, or the database does not record as delivered. */
  lost: number;
  /** Requests that arrived after the database recorded the delivery as done (must be 0). */
  afterDelivered: number;
  /** Rows whose status disagrees with their deliveries, or that still hold a lease or a due time. */
  untruthful: number;
  /** Human-readable problems, the first few of each kind. */
  problems: string[];
}

/** Clock slack between a worker's estimate of database time and the receiver's clock (same machine). */
const SLACK_MS = 250;

/**
 * Checks that every stored event reached every destination in `dests`, that nothing arrived at a destination after
 * the database recorded it delivered there, and that each row's status agrees with its deliveries.
 * `expectedIds`: ids the producers saw committed; each must be stored.
 */
export async function audit(sql: Sql, schema: string, receiver: Receiver, dests: string[], expectedIds?: Iterable<string>): Promise<Audit> {
  const rows = await sql.unsafe(
    `select id, status, deliveries::text as deliveries, next_attempt_at, lease, extract(epoch from published_at) * 1000 as published_at from "${schema}".events`,
  );
  const problems: string[] = [];
  const note = (kind: string, msg: string): void => {
    if (problems.filter((p) => p.startsWith(kind)).length < 5) problems.push(`${kind}: ${msg}`);
  };
  const accepted = new Map(dests.map((d) => [d, receiver.accepted(d)]));
  const all = new Map<string, Map<string, number[]>>();
  for (const a of receiver.arrivals) {
    let byId = all.get(a.dest);
    if (!byId) all.set(a.dest, (byId = new Map()));
    const list = byId.get(a.id);
    if (list) list.push(a.start);
    else byId.set(a.id, [a.start]);
  }
  const stored = new Set<string>();
  let delivered = 0, duplicates = 0, lost = 0, afterDelivered = 0, untruthful = 0;
  for (const row of rows) {
    const id = row.id as string;
    stored.add(id);
    const state = JSON.parse(row.deliveries as string) as Record<string, { status: string; deliveredAt: number | null }>;
    let everywhere = true;
    for (const d of dests) {
      const s = state[d];
      const got = accepted.get(d)!.get(id) ?? [];
      duplicates += Math.max(0, got.length - 1);
      if (!s || s.status !== "delivered" || got.length === 0) {
        everywhere = false;
        lost++;
        note("lost", `${id} at ${d}: database says ${s?.status ?? "nothing"}, receiver accepted ${got.length}`);
        continue;
      }
      for (const start of all.get(d)?.get(id) ?? []) {
        if (start > (s.deliveredAt ?? 0) + SLACK_MS) {
          afterDelivered++;
          note("after-delivered", `${id} at ${d}: request at ${start}, recorded delivered at ${s.deliveredAt}`);
        }
      }
    }
    if (everywhere) delivered++;
    const truthful = everywhere
      ? row.status === "published" && row.next_attempt_at === null && row.lease === null && row.published_at !== null
      : row.status !== "published";
    if (!truthful) {
      untruthful++;
      note("status", `${id}: status ${row.status}, next_attempt_at ${row.next_attempt_at}, lease ${row.lease}`);
    }
  }
  for (const id of expectedIds ?? []) {
    if (!stored.has(id)) {
      lost += dests.length;
      note("lost", `${id} was committed but is not in the table`);
    }
  }
  return { published: rows.length, delivered, duplicates, lost, afterDelivered, untruthful, problems };
}

/**
 * The audit's verdict as assertions: the producers saw no failure, nothing was lost, every one of `events` reached
 * every destination, nothing arrived after it was recorded delivered, and every status tells the truth.
 */
export function expectClean(result: Audit, producerFailures: unknown[], events: number): void {
  if (result.problems.length) console.log(result.problems);
  expect(producerFailures).toEqual([]);
  expect(result.lost).toBe(0);
  expect(result.delivered).toBe(events);
  expect(result.afterDelivered).toBe(0);
  expect(result.untruthful).toBe(0);
}

/** Prints the scenario's figures as one line, the source of README's Reliability table. */
export function summary(scenario: string, figures: Record<string, string | number>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${v}`);
  console.log(`[reliability] ${scenario} ${parts.join(" ")}`);
}

/** Counts rows per status. */
export async function statusCounts(sql: Sql, schema: string): Promise<Record<string, number>> {
  const rows = await sql.unsafe(`select status, count(*)::int as n from "${schema}".events group by status`);
  return Object.fromEntries(rows.map((r) => [r.status as string, r.n as number]));
}

/** Waits until nothing in the table is left to do (no due time, no lease), with a deadline. */
export async function drained(sql: Sql, schema: string): Promise<boolean> {
  try {
    const [r] = await sql.unsafe(`select count(*)::int as n from "${schema}".events where next_attempt_at is not null`);
    return r.n === 0;
  } catch {
    return false; // the database is restarting: ask again
  }
}
