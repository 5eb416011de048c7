/**
 * Fewer index entries per published event. `events_unfinished (seq) where next_attempt_at is not null` held exactly
 * the rows of `events_due (next_attempt_at, seq) where next_attempt_at is not null`, so every publish, claim and
 * completion wrote and removed two entries where one serves: the dashboard's backlog and status counts now read
 * the unfinished events through `events_due` (store/backlog.ts, store/status-counts.ts).
 */
export default function (s: string): string {
  return `
drop index if exists ${s}.events_unfinished;`;
}
