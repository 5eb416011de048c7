import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";
import { arrayLiteral } from "./array.ts";

/** One destination's backlog. */
export interface BacklogGauge {
  destination: string;
  /** Events it has not yet received nor failed for good: due, scheduled, retrying or in flight. */
  events: number;
  /** Milliseconds since the oldest of them fell due (its scheduled time, else its commit); 0 when there is none. */
  oldestAgeMs: number;
}

/**
 * The backlog of every destination ($1, with $2 the regular expression of the types it takes), in one statement
 * that metrics collection can run every few seconds. Cheap because it reads unfinished events only, through the
 * partial index `events_due`, which holds just the events with work left (`next_attempt_at is not null`): finished
 * events, nearly the whole table, are never read however many there are. The condition is written as a range,
 * `next_attempt_at >= '-infinity'` (the same rows: every timestamp is at least -infinity): on a table without
 * statistics the planner guesses `is not null` matches almost every row and scans the table, while a range makes it
 * take the index. Destinations are matched to event types in SQL (one regular expression each, against the few
 * unfinished rows), so each event is read once.
 */
export function selectBacklogGauges(schema: Schema): string {
  return `
with unfinished as materialized (
  select e.type, e.deliveries, coalesce(e.scheduled_at, e.created_at) as due_at
  from ${schema.quoted}.events e where e.next_attempt_at >= '-infinity'::timestamptz
)
select d.destination, count(u.type) as events,
       coalesce(greatest(extract(epoch from now() - min(u.due_at)) * 1000, 0), 0) as oldest_ms
from unnest((select $1::text::text[]), (select $2::text::text[])) as d(destination, types)
left join unfinished u on u.type ~ d.types
  and coalesce(u.deliveries -> d.destination ->> 'status', 'pending') not in ('delivered', 'failed')
group by d.destination`;
}

/**
 * Reads the backlog of each destination, given as its name and the type patterns it was registered for
 * (`user.created`, `order.*`, `*`). Every given destination is in the answer, with 0 when nothing waits for it.
 */
export async function backlogGauges(query: Query, schema: Schema, destinations: ReadonlyArray<{ name: string; patterns: readonly string[] }>): Promise<BacklogGauge[]> {
  if (destinations.length === 0) return [];
  const rows = await query(selectBacklogGauges(schema), [
    arrayLiteral(destinations.map((d) => d.name)),
    arrayLiteral(destinations.map((d) => typesExpression(d.patterns))),
  ]);
  return rows.map((r) => ({ destination: String(r.destination), events: Number(r.events), oldestAgeMs: Math.round(Number(r.oldest_ms)) }));
}

/**
 * The patterns as one anchored PostgreSQL regular expression. Every character but letters and digits is escaped
 * (in PostgreSQL's advanced expressions a backslash before any other character makes it literal), and a trailing
 * `*` (`order.*`, `*`) becomes "anything".
 */
export function typesExpression(patterns: readonly string[]): string {
  const alternatives = patterns.map((p) => {
    const prefix = p.endsWith("*") ? p.slice(0, -1) : p;
    const literal = prefix.replace(/[^\p{L}\p{N}]/gu, (c) => `\\${c}`);
    return p.endsWith("*") ? `${literal}.*` : literal;
  });
  return `^(?:${alternatives.join("|")})$`;
}
