import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/** Pauses a destination for every worker; idempotent (a second pause keeps the first time). */
export function pauseStatement(schema: Schema): string {
  return `
insert into ${schema.quoted}.destinations (name, paused_at) values ($1, now())
on conflict (name) do update set paused_at = coalesce(destinations.paused_at, now()), updated_at = now()
returning paused_at`;
}

/** Resumes a destination; returns whether it was paused. */
export function resumeStatement(schema: Schema): string {
  return `
update ${schema.quoted}.destinations set paused_at = null, updated_at = now()
where name = $1 and paused_at is not null
returning name`;
}

/** The paused destinations: a handful of rows, read by primary key order. */
export function pausedStatement(schema: Schema): string {
  return `select name, paused_at from ${schema.quoted}.destinations where paused_at is not null order by name`;
}

/**
 * Makes due now the events whose delivery to destination $1 was put off while it was paused (or its circuit was
 * open). Walks the unfinished rows only (the due index), and skips rows a worker holds.
 */
export function wakeDestinationStatement(schema: Schema): string {
  return `
update ${schema.quoted}.events
set next_attempt_at = now(), deliveries = jsonb_set(deliveries, array[$1::text, 'nextAttemptAt'], 'null')
where next_attempt_at > now() and lease is null and deliveries -> $1::text ->> 'status' = 'pending'`;
}

/** Pauses `name`. */
export async function pause(query: Query, schema: Schema, name: string): Promise<void> {
  await query(pauseStatement(schema), [name]);
}

/** Resumes `name`; true when it was paused. */
export async function resume(query: Query, schema: Schema, name: string): Promise<boolean> {
  return (await query(resumeStatement(schema), [name])).length > 0;
}

/** The paused destinations with when each was paused. */
export async function paused(query: Query, schema: Schema): Promise<Array<{ name: string; pausedAt: Date }>> {
  const rows = await query(pausedStatement(schema), []);
  return rows.map((r) => ({ name: r.name as string, pausedAt: r.paused_at instanceof Date ? r.paused_at : new Date(r.paused_at as string) }));
}

/** Makes a destination's put-off deliveries due now; see {@link wakeDestinationStatement}. */
export async function wakeDestination(query: Query, schema: Schema, name: string): Promise<void> {
  await query(wakeDestinationStatement(schema), [name]);
}
