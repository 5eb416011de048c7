/**
 * The outbox table. One row per event; the state of each destination lives in `deliveries`
 * (name -> { status, attempts, lastError, nextAttemptAt, deliveredAt }) so that finishing an event is one row
 * update, however many destinations it has.
 *
 * `next_attempt_at` is the work queue: null once nothing is left to do, the scheduled time for new events, the
 * earliest retry for failed attempts, and the lease expiry while a worker holds the event, so a crashed worker's
 * events simply become due again.
 */
export default function (s: string): string {
  return `
create table ${s}.events (
  seq bigint generated always as identity primary key,
  id text not null,
  source text not null,
  type text not null,
  specversion text not null default '1.0',
  subject text,
  time text,
  datacontenttype text,
  dataschema text,
  extensions jsonb,
  data jsonb,
  status text not null default 'pending' check (status in ('pending', 'processing', 'published', 'failed')),
  attempts integer not null default 0,
  max_retries integer,
  last_error text,
  ordering_key text,
  deliveries jsonb not null default '{}',
  scheduled_at timestamptz,
  next_attempt_at timestamptz,
  lease uuid,
  created_at timestamptz not null default now(),
  published_at timestamptz
);
-- Idempotent publish and look-up by id.
create unique index events_id_source on ${s}.events (id, source);
-- The claim query: due rows in due order. Partial, so finished events cost nothing here.
create index events_due on ${s}.events (next_attempt_at, seq) where next_attempt_at is not null;
-- Ordering keys: "is an earlier event with this key unfinished?"
create index events_ordering on ${s}.events (ordering_key, seq) where ordering_key is not null and next_attempt_at is not null;
-- listEvents({ status: "failed" }) and the operator's question "what failed?"
create index events_failed on ${s}.events (seq) where status = 'failed';
-- Retention finds old rows by age; BRIN costs almost nothing on insert because rows arrive in time order.
create index events_created_brin on ${s}.events using brin (created_at);
`;
}
