import type { CloudEvent } from "cloudevents";
import { attributeEntries, eventData, structuredMessage } from "../webhook/binding.ts";

/** An event rendered for MQTT: the payload and, in MQTT 5, the PUBLISH properties. */
export interface MqttMessage {
  /** The event data (MQTT 5), or the whole event as JSON (MQTT 3.1.1). */
  payload: Uint8Array;
  /** MQTT 5 only: the Content Type property and one User Property per attribute. */
  properties?: { contentType?: string; userProperties: Record<string, string> };
}

/**
 * Renders an event in the CloudEvents MQTT binding. MQTT 5 (`protocolVersion: 5`): binary mode, each attribute as a
 * User Property named exactly as the attribute (`id`, `type`, `source`, …, no prefix), `datacontenttype` as the
 * Content Type property, the data as the payload. MQTT 3.1.1 (`protocolVersion: 4`) has no properties, so the
 * binding's structured mode: the whole event as one JSON document (`application/cloudevents+json`).
 *
 * @example
 * ```ts
 * const { payload, properties } = mqttMessage(new CloudEvent({ type: "user.created", source: "app", data: { id: 1 } }), 5);
 * // properties.userProperties.type === "user.created"; properties.contentType === "application/json"
 * ```
 */
export function mqttMessage(event: CloudEvent<unknown>, protocolVersion: 4 | 5, orderingKey?: string): MqttMessage {
  if (protocolVersion === 4) {
    const structured = orderingKey && event.partitionkey === undefined ? event.cloneWith({ partitionkey: orderingKey }) : event;
    return { payload: structuredMessage(structured).body ?? new Uint8Array(0) };
  }
  const userProperties = Object.fromEntries(attributeEntries(event, orderingKey));
  const { contentType, body } = eventData(event);
  return { payload: body ?? new Uint8Array(0), properties: { ...(contentType ? { contentType } : {}), userProperties } };
}
