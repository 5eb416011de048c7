import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * What a worker reads of the controls every worker shares: the paused destinations, and the destinations whose
 * circuit some worker opened, with how much longer it stays open (milliseconds on the database's clock, so workers
 * whose clocks disagree still agree) and the opening's length. A handful of rows.
 */
export function controlsStatement(schema: Schema): string {
  return `
select name, paused_at is not null as paused,
       greatest(0, extract(epoch from (circuit_open_until - now())) * 1000)::float8 as open_ms, circuit_cooldown_ms
from ${schema.quoted}.destinations
where paused_at is not null or circuit_open_until > now()
order by name`;
}

/** Records that destination $1's circuit is open for $2 milliseconds from now, for every worker to adopt. */
export function openCircuitStatement(schema: Schema): string {
  return `
insert into ${schema.quoted}.destinations (name, circuit_open_until, circuit_cooldown_ms)
values ($1, now() + $2::integer * interval '1 millisecond', $2::integer)
on conflict (name) do update set circuit_open_until = excluded.circuit_open_until,
  circuit_cooldown_ms = excluded.circuit_cooldown_ms, updated_at = now()`;
}

/** Records that destination $1's circuit closed (a trial succeeded). */
export function closeCircuitStatement(schema: Schema): string {
  return `
update ${schema.quoted}.destinations set circuit_open_until = null, circuit_cooldown_ms = null, updated_at = now()
where name = $1 and circuit_open_until is not null`;
}

/** One destination's circuit as the shared row has it. */
export interface SharedCircuit {
  name: string;
  /** How much longer it stays open. */
  openMs: number;
  /** The opening's length (a failed trial doubles it). */
  cooldownMs: number;
}

/** Reads the shared controls; see {@link controlsStatement}. */
export async function readControls(query: Query, schema: Schema): Promise<{ paused: string[]; open: SharedCircuit[] }> {
  const rows = await query(controlsStatement(schema), []);
  const paused: string[] = [];
  const open: SharedCircuit[] = [];
  for (const r of rows) {
    if (r.paused === true) paused.push(r.name as string);
    const openMs = Number(r.open_ms);
    if (openMs > 0) open.push({ name: r.name as string, openMs, cooldownMs: Number(r.circuit_cooldown_ms ?? 0) });
  }
  return { paused, open };
}

/** Shares an opened circuit; see {@link openCircuitStatement}. */
export async function openCircuit(query: Query, schema: Schema, name: string, cooldownMs: number): Promise<void> {
  await query(openCircuitStatement(schema), [name, cooldownMs]);
}

/** Shares a closed circuit; see {@link closeCircuitStatement}. */
export async function closeCircuit(query: Query, schema: Schema, name: string): Promise<void> {
  await query(closeCircuitStatement(schema), [name]);
}
