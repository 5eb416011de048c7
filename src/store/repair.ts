import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";

/**
 * Releases the first parked event of every key that has nothing unfinished before it, and returns how many it
 * released. Normally the statement that finishes an event releases the next one (see complete.ts); this catches a
 * release that could not happen: a publisher parked an event behind one that finished before the publisher
 * committed, so the finish did not see it. The worker runs it on start, on every reconnect and on every sweep.
 *
 * It walks the keys that have parked events by skipping through the events_parked index (one probe per key, not
 * one per parked event: 20,000 events parked behind one key cost one probe), and checks each key's first parked
 * event against the events_ordering index.
 */
export function repairParked(schema: Schema): string {
  const s = schema.quoted;
  return `
with recursive keys(key) as (
  (select ordering_key from ${s}.events where parked order by ordering_key limit 1)
  union all
  select (select e.ordering_key from ${s}.events e where e.parked and e.ordering_key > keys.key order by e.ordering_key limit 1)
  from keys where keys.key is not null
), released as (
  update ${s}.events w
  set parked = false, next_attempt_at = greatest(now(), w.scheduled_at)
  where w.seq = any(array(
      select (select f.seq from ${s}.events f where f.parked and f.ordering_key = keys.key order by f.seq limit 1)
      from keys where keys.key is not null))
    and w.parked
    and not exists (
      select 1 from ${s}.events p
      where p.ordering_key = w.ordering_key and p.seq < w.seq and (p.next_attempt_at is not null or p.parked))
  returning 1
)
select count(*) as released from released`;
}

/** Runs {@link repairParked}; returns how many events it released. */
export async function repair(query: Query, schema: Schema): Promise<number> {
  const [row] = await query(repairParked(schema), []);
  return Number(row?.released ?? 0);
}
