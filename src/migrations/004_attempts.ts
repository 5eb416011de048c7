/**
 * The attempt history: one row per attempt at one destination, appended by the statement that records the
 * attempt's outcome (no extra round trip). `outcome` is what the attempt led to: `delivered`, `retry` (another
 * attempt is scheduled) or `failed` (for good). `status` is the destination's own status code when it has one (HTTP).
 * `error` is the failed attempt's message as the delivery's lastError holds it. No primary key and no foreign key:
 * it is a log, read per event and deleted by age, and each index it does not have is one less write per attempt.
 */
export default function (s: string): string {
  return `
create table ${s}.attempts (
  event_seq bigint not null,
  destination text not null,
  attempt integer not null,
  started_at timestamptz not null,
  duration_ms integer not null,
  outcome text not null check (outcome in ('delivered', 'retry', 'failed')),
  status integer,
  error text
);
-- getEvent(id, { history: true }): one event's attempts in order.
create index attempts_event on ${s}.attempts (event_seq, started_at);
-- Retention deletes history by age; rows arrive in time order, so BRIN is nearly free on insert.
create index attempts_started_brin on ${s}.attempts using brin (started_at);
`;
}
