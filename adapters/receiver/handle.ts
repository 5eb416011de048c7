import type { CloudEvent } from "cloudevents";
import type { Schema } from "../../src/schema.ts";
import type { Received } from "./answer.ts";
import { record } from "./inbox.ts";
import type { Begin } from "./transaction.ts";

/** What a handler gets beside the event. */
export interface ReceiveContext<Tx> {
  /** The transaction the event is recorded in: write with it, and the writes commit with the inbox row or not at all. */
  tx: Tx;
  /** The request the event came in, for its headers. Its body has been read. */
  request: Request;
}

/** Handles one event inside the receiver's transaction. Throw to refuse it: see the receiver's docs for how. */
export type ReceiveHandler<Tx, T = unknown> = (event: CloudEvent<T>, ctx: ReceiveContext<Tx>) => unknown;

/**
 * Handles the events of one request in one transaction: each (source, id) is recorded in the inbox and, when new,
 * handed to the handler; a throw anywhere rolls back every row and every write of the request.
 */
export async function handleEvents<Tx>(
  begin: Begin,
  schema: Schema,
  events: CloudEvent<unknown>[],
  handler: ReceiveHandler<Tx>,
  request: Request,
): Promise<Received[]> {
  return await begin(async (query, tx) => {
    const fresh = await record(query, schema.quoted, events);
    const received: Received[] = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (fresh[i]) await handler(e, { tx: tx as Tx, request });
      received.push({ source: e.source, id: e.id, duplicate: !fresh[i] });
    }
    return received;
  });
}
