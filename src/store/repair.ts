import type { Query } from "../client.ts";
import type { Schema } from "../schema.ts";
import { arrayLiteral } from "./array.ts";

/**
 * Releases the first parked event of a key when nothing before it is unfinished, and returns how many it released.
 * Normally the statement that finishes an event releases the next one (see complete.ts); this catches a release
 * that could not happen: a publisher parked an event behind one that finished before the publisher committed, so
 * the finish did not see it (and the publisher did not see the finish).
 *
 * {@link repairParked} looks at every key that has parked events, by skipping through the events_parked index (one
 * probe per key, not per parked event: 20,000 events parked behind one key cost one probe); the worker runs it on
 * start, on every reconnect and on every sweep. {@link repairKeys} looks at the keys in $1 only; the worker runs it
 * for the keys it finished an event of in the last moments, which is where a lost release shows up.
 */
export function repairParked(schema: Schema): string {
  const s = schema.quoted;
  return `
with recursive keys(key) as (
  (select ordering_key from ${s}.events where parked order by ordering_key limit 1)
  union all
  select (select e.ordering_key from ${s}.events e where e.parked and e.ordering_key > keys.key order by e.ordering_key limit 1)
  from keys where keys.key is not null
)
${releaseFirst(s, "keys")}`;
}

/** {@link repairParked} for the ordering keys in $1 (a text array literal). */
export function repairKeys(schema: Schema): string {
  const s = schema.quoted;
  return `
with keys(key) as (select * from unnest($1::text::text[]))
${releaseFirst(s, "keys")}`;
}

/**
 * The release itself, for the keys in CTE `keys`. Each look-up orders by (ordering_key, seq) and stops at one row, so
 * it walks events_parked or events_ordering, never the primary key or a hash of the table.
 */
function releaseFirst(s: string, keys: string): string {
  return `, released as (
  update ${s}.events w
  set parked = false, next_attempt_at = greatest(now(), w.scheduled_at)
  where w.seq = any(array(
      select (select f.seq from ${s}.events f where f.parked and f.ordering_key = k.key
              order by f.ordering_key, f.seq limit 1)
      from ${keys} k where k.key is not null))
    and w.parked
    and (select p.seq from ${s}.events p
         where p.ordering_key = w.ordering_key and p.seq < w.seq and (p.next_attempt_at is not null or p.parked)
         order by p.ordering_key, p.seq limit 1) is null
  returning 1
)
select count(*) as released from released`;
}

/**
 * Releases what {@link repairParked} finds (every key), or {@link repairKeys} for `keys`; returns how many.
 *
 * @example
 * ```ts
 * await repair(query, schema);            // every key with parked events
 * await repair(query, schema, ["acct-1"]); // these keys only
 * ```
 */
export async function repair(query: Query, schema: Schema, keys?: string[]): Promise<number> {
  const [row] = keys
    ? await query(repairKeys(schema), [arrayLiteral(keys)])
    : await query(repairParked(schema), []);
  return Number(row?.released ?? 0);
}
