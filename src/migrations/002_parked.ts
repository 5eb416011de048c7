/**
 * Parked events: events with an ordering key that wait behind an unfinished event with the same key.
 *
 * Until now such an event was due (`next_attempt_at` set) and stayed in the claim's path: every claim and every
 * "when is the next event due?" look-up tested it against the key's earlier events, once per waiting event, so
 * 20,000 events behind one retrying event made each claim cost seconds. A parked event is unfinished but not due:
 * `parked` is true and `next_attempt_at` is null, so it is outside the due index and costs the claim nothing.
 * Its status stays `pending`. An event is therefore finished only when `next_attempt_at` is null and it is not parked.
 *
 * Who parks and who releases: publish parks a keyed event when the key already has a parked event, or an unfinished
 * one that no worker holds; the statement that writes a finished keyed event releases the key's first parked event
 * (due now, or at its scheduledAt); and the worker's repair step (on start, reconnect and every sweep) releases a
 * key's first parked event when nothing before it is unfinished, which recovers a release lost to a race. The claim
 * still refuses an event while an earlier one with its key is unfinished, parked ones included, so order holds
 * whatever those races did.
 */
export default function (s: string): string {
  return `
alter table ${s}.events add column parked boolean not null default false;
-- The claim's and publish's question "is an earlier event with this key unfinished?"; parked events count.
drop index ${s}.events_ordering;
create index events_ordering on ${s}.events (ordering_key, seq)
  where ordering_key is not null and (next_attempt_at is not null or parked);
-- Release and repair: "the first parked event of this key", and repair's walk over the keys that have one.
create index events_parked on ${s}.events (ordering_key, seq) where parked;
`;
}
