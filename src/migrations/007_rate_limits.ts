/**
 * Rate limits shared by every worker: a token bucket per destination in its `destinations` row. `rate_per_second`
 * is set by the workers from the destination's registration; `tokens` (at most one second's worth) refill with time
 * since `refilled_at`; a worker takes a few at once (`last_granted` is what the last taker got) and spends them
 * locally, so the row is touched a few times a second, not once per attempt.
 */
export default function (s: string): string {
  return `
alter table ${s}.destinations add column rate_per_second double precision;
alter table ${s}.destinations add column tokens double precision not null default 0;
alter table ${s}.destinations add column refilled_at timestamptz not null default now();
alter table ${s}.destinations add column last_granted integer not null default 0;`;
}
