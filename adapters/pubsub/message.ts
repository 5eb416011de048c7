import type { CloudEvent } from "cloudevents";
import { toBase64 } from "../../src/base64.ts";
import { PermanentError } from "../../src/errors.ts";
import { isJsonMediaType } from "../media.ts";

/**
 * One Pub/Sub message as both transports send it.
 *
 * @example
 * ```ts
 * const message: PubSubMessage = { data: new TextEncoder().encode("{}"), attributes: { "ce-id": "1" }, orderingKey: "k" };
 * ```
 */
export interface PubSubMessage {
  /** The event data as bytes (empty when the event has no data). */
  data: Uint8Array;
  /** `ce-*` attributes, plus `contentType` and `Content-Type` when the event has a content type. */
  attributes: Record<string, string>;
  /** Messages that share a key are delivered in publish order to subscriptions with message ordering. */
  orderingKey?: string;
}

/**
 * Pub/Sub's published limits (cloud.google.com/pubsub/quotas#resource_limits). The message size counts the data,
 * every attribute key and value, and the ordering key.
 *
 * @example
 * ```ts
 * if (JSON.stringify(data).length > PUBSUB_LIMITS.messageBytes / 2) storeElsewhere(data);
 * ```
 */
export const PUBSUB_LIMITS = {
  attributes: 100,
  attributeKeyBytes: 256,
  attributeValueBytes: 1024,
  orderingKeyBytes: 1024,
  messageBytes: 10_000_000,
} as const;

// CloudEvent properties that are not extensions; everything else on the instance is one.
const CONTEXT = new Set([
  "id",
  "source",
  "specversion",
  "type",
  "subject",
  "time",
  "dataschema",
  "datacontenttype",
  "datacontentencoding",
  "schemaurl",
  "data",
  "data_base64",
]);

const encoder = new TextEncoder();

/**
 * Maps a CloudEvent to a Pub/Sub message in the CloudEvents Pub/Sub binding's binary mode: context attributes and
 * extensions become `ce-<name>` attributes, the content type goes in `contentType` and `Content-Type`, and the data
 * becomes the message bytes (JSON unless the content type says otherwise); `trace` (an attempt's W3C trace context)
 * adds `traceparent` and `tracestate` attributes. Throws a {@link PermanentError} when the
 * result breaks one of Pub/Sub's limits, since no retry could make it fit.
 *
 * @example
 * ```ts
 * const message = toPubSubMessage(new CloudEvent({ type: "user.created", source: "users", data: { id: 1 } }), "user-1");
 * // message.attributes["ce-type"] === "user.created"; message.data holds the bytes of '{"id":1}'
 * ```
 */
export function toPubSubMessage(event: CloudEvent<unknown>, orderingKey?: string, trace?: { traceparent?: string; tracestate?: string }): PubSubMessage {
  const attributes: Record<string, string> = {
    "ce-id": event.id,
    "ce-source": event.source,
    "ce-specversion": event.specversion,
    "ce-type": event.type,
  };
  if (event.subject != null) attributes["ce-subject"] = event.subject;
  if (event.time != null) attributes["ce-time"] = rfc3339(event.time);
  if (event.dataschema != null) attributes["ce-dataschema"] = event.dataschema;
  for (const [name, value] of Object.entries(event)) {
    if (CONTEXT.has(name) || value == null) continue;
    attributes[`ce-${name}`] = canonical(value);
  }
  const { data, contentType } = encodeData(event);
  if (contentType) {
    attributes.contentType = contentType;
    attributes["Content-Type"] = contentType;
  }
  // W3C Trace Context as plain attributes, as OpenTelemetry's messaging propagation reads them.
  if (trace?.traceparent) attributes.traceparent = trace.traceparent;
  if (trace?.tracestate) attributes.tracestate = trace.tracestate;
  const message: PubSubMessage = { data, attributes };
  if (orderingKey) message.orderingKey = orderingKey;
  checkLimits(message, event.id);
  return message;
}

function encodeData(event: CloudEvent<unknown>): { data: Uint8Array; contentType?: string | undefined } {
  const declared = event.datacontenttype;
  const data = event.data;
  // No data is no bytes; JSON null is data, the bytes `null`, as the webhook sends it.
  if (data === undefined) return { data: new Uint8Array(0), contentType: declared };
  if (data instanceof Uint8Array) return { data, contentType: declared ?? "application/octet-stream" };
  if (typeof data === "string" && declared && !isJsonMediaType(declared)) return { data: encoder.encode(data), contentType: declared };
  return { data: encoder.encode(JSON.stringify(data)), contentType: declared ?? "application/json" };
}

// The form the SDK's toJSON writes, so the Pub/Sub attribute and a structured copy of the event agree on `time`.
function rfc3339(time: string | Date): string {
  const ms = new Date(time).getTime();
  return Number.isNaN(ms) ? String(time) : new Date(ms).toISOString();
}

// The CloudEvents type system's canonical string forms: timestamps as RFC 3339, binary as base64, the rest as text.
function canonical(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return toBase64(value);
  return String(value);
}

function checkLimits(message: PubSubMessage, id: string): void {
  const entries = Object.entries(message.attributes);
  if (entries.length > PUBSUB_LIMITS.attributes) {
    throw new PermanentError(
      `Event ${id} needs ${entries.length} Pub/Sub attributes but Pub/Sub allows ${PUBSUB_LIMITS.attributes}: ` +
        "drop some CloudEvent extensions",
    );
  }
  let size = message.data.byteLength;
  for (const [key, value] of entries) {
    const keyBytes = encoder.encode(key).byteLength;
    const valueBytes = encoder.encode(value).byteLength;
    if (keyBytes > PUBSUB_LIMITS.attributeKeyBytes) {
      throw new PermanentError(
        `Event ${id} has a Pub/Sub attribute name of ${keyBytes} bytes ("${key.slice(0, 40)}..."), over Pub/Sub's ` +
          `limit of ${PUBSUB_LIMITS.attributeKeyBytes}: use a shorter extension name`,
      );
    }
    if (valueBytes > PUBSUB_LIMITS.attributeValueBytes) {
      throw new PermanentError(
        `Event ${id} has a Pub/Sub attribute "${key}" of ${valueBytes} bytes, over Pub/Sub's limit of ` +
          `${PUBSUB_LIMITS.attributeValueBytes}: move the value into the event data`,
      );
    }
    size += keyBytes + valueBytes;
  }
  if (message.orderingKey) {
    const keyBytes = encoder.encode(message.orderingKey).byteLength;
    if (keyBytes > PUBSUB_LIMITS.orderingKeyBytes) {
      throw new PermanentError(
        `Event ${id} has an ordering key of ${keyBytes} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.orderingKeyBytes}`,
      );
    }
    size += keyBytes;
  }
  if (size > PUBSUB_LIMITS.messageBytes) {
    throw new PermanentError(
      `Event ${id} makes a Pub/Sub message of ${size} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.messageBytes}: ` +
        "store large payloads elsewhere and publish a reference",
    );
  }
}

