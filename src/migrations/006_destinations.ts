/**
 * Destination controls shared by every worker: one row per destination an operator has acted on (most have none).
 * `paused_at` set: nothing is attempted at that destination; its deliveries wait, without using an attempt, until it
 * is resumed. Workers read this small table at most once a second while they have work, never while idle.
 */
export default function (s: string): string {
  return `
create table ${s}.destinations (
  name text primary key,
  paused_at timestamptz,
  updated_at timestamptz not null default now()
);`;
}
