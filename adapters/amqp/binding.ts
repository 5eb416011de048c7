import type { CloudEvent } from "cloudevents";
import { attributeEntries, eventData } from "../webhook/binding.ts";

/** The two application-property prefixes the CloudEvents AMQP binding allows. */
export type AmqpPropertyPrefix = "cloudEvents:" | "cloudEvents_";

/** An event rendered for AMQP 0-9-1: the message properties and the body bytes. */
export interface AmqpMessage {
  /** `cloudEvents:<attribute>` application properties (AMQP 0-9-1 headers). */
  headers: Record<string, string>;
  /** The AMQP `content-type` property, from `datacontenttype`. */
  contentType?: string;
  /** The AMQP `message-id` property: the event id. */
  messageId: string;
  /** The event data (empty when the event has none). */
  body: Uint8Array;
}

/**
 * Renders an event in the CloudEvents AMQP binding's binary mode: each attribute as an application property
 * (`headers` in AMQP 0-9-1) named with the prefix (`cloudEvents:` by default; `cloudEvents_` for JMS-style
 * consumers such as Spring AMQP), `datacontenttype` as the `content-type` property, the event id also as
 * `message-id`, and the data as the body.
 *
 * @example
 * ```ts
 * const message = amqpMessage(new CloudEvent({ type: "user.created", source: "app", data: { id: 1 } }));
 * // message.headers["cloudEvents:type"] === "user.created"; message.contentType === "application/json"
 * ```
 */
export function amqpMessage(event: CloudEvent<unknown>, orderingKey?: string, prefix: AmqpPropertyPrefix = "cloudEvents:"): AmqpMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of attributeEntries(event, orderingKey)) headers[`${prefix}${name}`] = value;
  const { contentType, body } = eventData(event);
  return { headers, ...(contentType ? { contentType } : {}), messageId: event.id, body: body ?? new Uint8Array(0) };
}
