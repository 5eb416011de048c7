import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/** Sets a destination's shared rate limit (null: none), keeping its pause state and bucket. */
export function setRateStatement(schema: Schema): string {
  return `
insert into ${schema.quoted}.destinations (name, rate_per_second, tokens, refilled_at) values ($1, $2::double precision, coalesce($2::double precision, 0), now())
on conflict (name) do update set rate_per_second = excluded.rate_per_second, updated_at = now()
  where destinations.rate_per_second is distinct from excluded.rate_per_second`;
}

/**
 * Takes up to $2 whole tokens from destination $1's bucket: refills it for the time since the last take (capped at one
 * second's worth), grants what is there, and keeps the rest. One row, by primary key; the row lock orders takers.
 * SET expressions read the row as it was, so `last_granted` is what this take got.
 */
export function takeTokensStatement(schema: Schema): string {
  const available = `least(rate_per_second, tokens + extract(epoch from (now() - refilled_at)) * rate_per_second)`;
  return `
update ${schema.quoted}.destinations
set last_granted = least($2::integer, floor(${available}))::integer,
    tokens = ${available} - least($2::integer, floor(${available})),
    refilled_at = now()
where name = $1 and rate_per_second is not null
returning last_granted, rate_per_second`;
}

/** Records the limit; see {@link setRateStatement}. */
export async function setRate(query: Query, schema: Schema, name: string, perSecond: number | null): Promise<void> {
  await query(setRateStatement(schema), [name, perSecond]);
}

/** Takes tokens; returns how many were granted (0 when none are left, or the destination has no limit: null). */
export async function takeTokens(query: Query, schema: Schema, name: string, want: number): Promise<{ granted: number; rate: number } | null> {
  const [row] = await query(takeTokensStatement(schema), [name, want]);
  return row ? { granted: Number(row.last_granted), rate: Number(row.rate_per_second) } : null;
}
