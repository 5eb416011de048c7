import type { CloudEvent } from "cloudevents";
import { attributeEntries, eventData } from "../webhook/binding.ts";

/** An event rendered for NATS: the message headers, in order, and the payload bytes. */
export interface NatsMessage {
  /** `ce-<attribute>` headers, `content-type`, and `Nats-Msg-Id` (the event id). */
  headers: Array<[string, string]>;
  /** The event data (empty when the event has none). */
  data: Uint8Array;
}

/**
 * Renders an event in the CloudEvents NATS binding's binary mode: each attribute as a `ce-<name>` header holding its
 * canonical string, `datacontenttype` as `content-type`, the data as the payload. NATS headers cannot carry a line
 * break, so CR and LF in a value are sent percent-encoded (`%0D`, `%0A`). `Nats-Msg-Id` is the event id, so
 * JetStream drops a re-sent event inside the stream's duplicate window.
 *
 * @example
 * ```ts
 * const { headers, data } = natsMessage(new CloudEvent({ type: "user.created", source: "app", data: { id: 1 } }));
 * // headers: [["ce-id", "…"], …, ["content-type", "application/json"], ["Nats-Msg-Id", "…"]]
 * ```
 */
export function natsMessage(event: CloudEvent<unknown>, orderingKey?: string): NatsMessage {
  const headers: Array<[string, string]> = attributeEntries(event, orderingKey).map(([name, value]) => [
    `ce-${name}`,
    value.replace(/\r/g, "%0D").replace(/\n/g, "%0A"),
  ]);
  const { contentType, body } = eventData(event);
  if (contentType) headers.push(["content-type", contentType.replace(/[\r\n]/g, "")]);
  headers.push(["Nats-Msg-Id", event.id.replace(/\r/g, "%0D").replace(/\n/g, "%0A")]);
  return { headers, data: body ?? new Uint8Array(0) };
}
