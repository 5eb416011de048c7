import type { EventInput } from "../../src/event.ts";
import type { Outbox } from "../../src/outbox.ts";
import type { EventRecord } from "../../src/record.ts";

/** What a publish request stored: one record per input, and whether each was new. */
export interface Published {
  events: EventRecord[];
  /** False where the (source, id) was already stored and the existing event came back. */
  created: boolean[];
}

/**
 * Publishes the inputs (one transaction for a batch) and tells new events from existing ones, so a repeated
 * (source, id) can answer 200 instead of 201.
 *
 * The core returns the stored event either way and says nothing about which it was. An event inserted by this
 * transaction has `createdAt` equal to the transaction's `now()` (the column default), one stored earlier does not,
 * so when any input names its own id, the publish runs in a transaction that reads `now()` first. Inputs without
 * an id get a fresh UUID and are always new, so they skip the extra round trips.
 *
 * @example
 * ```ts
 * const { events, created } = await publishNoting(outbox, [{ type: "a", source: "b", id: "1" }]);
 * ```
 */
export async function publishNoting(outbox: Outbox, inputs: EventInput[]): Promise<Published> {
  if (!inputs.some((input) => input.id !== undefined)) {
    const events = await outbox.publishEvents(inputs);
    return { events, created: events.map(() => true) };
  }
  return await outbox.sql.begin(async (tx) => {
    const [{ now }] = await tx<{ now: Date }[]>`select now() as now`;
    const events = await outbox.publishEvents(inputs, { tx });
    return { events, created: events.map((e) => e.createdAt.getTime() === now.getTime()) };
  });
}
