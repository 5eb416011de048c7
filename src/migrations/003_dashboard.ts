/**
 * What the dashboard needs to answer without reading the whole table (the lead may renumber this file when it merges
 * beside 002).
 *
 * `failed_at` is when an event became `failed` (the first delivery that failed for good), as `published_at` is when
 * it became `published`; a retry clears it. The three partial indexes hold only the rows they serve, so a table of a
 * million published events costs them nothing beyond the last hour's worth:
 */
export default function (s: string): string {
  return `
alter table ${s}.events add column failed_at timestamptz;
-- The chart of published events per minute over the last hour (store/throughput.ts) and "delivered recently"
-- per destination (store/destination-health.ts): a range scan of the last hour only.
create index events_published_at on ${s}.events (published_at) where published_at is not null;
-- The same for failures.
create index events_failed_at on ${s}.events (failed_at) where failed_at is not null;
-- The backlog per destination, oldest first (store/backlog.ts): unfinished events in publish order. events_due is
-- ordered by due time, which says nothing about which event has waited longest.
create index events_unfinished on ${s}.events (seq) where next_attempt_at is not null;
`;
}
