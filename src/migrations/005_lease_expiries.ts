/**
 * Poison events. A claim sets `lease_lapsed` when the event still carried a lease: the worker holding it stopped
 * without writing an outcome (a crash, an exit, a stall past the lease). A graceful stop hands events back with the
 * lease cleared, so a deploy sets nothing. Such an event is attempted alone: the worker counts the attempt in
 * `lease_expiries` (committed before it starts) and writes its outcome at once, which clears the count; so when a
 * process dies, only the event it was attempting alone is counted, never the others it happened to hold. After the
 * worker's `maxLeaseExpiries` the event's due deliveries fail for good instead of taking down the next worker.
 */
export default function (s: string): string {
  return `
alter table ${s}.events add column lease_lapsed boolean not null default false;
alter table ${s}.events add column lease_expiries integer not null default 0;`;
}
