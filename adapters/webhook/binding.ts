import type { CloudEvent } from "cloudevents";
import { toBase64 } from "../../src/base64.ts";
import { isJsonMediaType } from "../media.ts";

/** An event rendered for HTTP: the CloudEvents headers and the exact body bytes (signed as they are sent). */
export interface HttpMessage {
  /** Lower-case header names to values, ready for `fetch`. */
  headers: Record<string, string>;
  /** The request body, or undefined for an event without data. */
  body?: Uint8Array<ArrayBuffer>;
}

const encoder = new TextEncoder();
const HEX = "0123456789ABCDEF";
/** Attributes that travel in Content-Type or the body, not as `ce-` headers. */
const NOT_HEADERS = new Set(["data", "data_base64", "datacontenttype"]);

/**
 * Percent-encodes a header value as the CloudEvents HTTP binding requires (section 3.1.3.2): space, double quote,
 * percent and everything outside printable ASCII become `%XX` of their UTF-8 bytes; the rest stays as it is.
 *
 * @example
 * ```ts
 * percentEncode('Euro € 100%'); // "Euro%20%E2%82%AC%20100%25"
 * ```
 */
export function percentEncode(value: string): string {
  let out = "";
  for (const byte of encoder.encode(value)) {
    // UTF-8 continuation and lead bytes are all >= 0x80, so this byte test also catches every non-ASCII character.
    out += byte > 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x25
      ? String.fromCharCode(byte)
      : "%" + HEX[byte >> 4] + HEX[byte & 15];
  }
  return out;
}

/**
 * Reverses {@link percentEncode} on a received `ce-*` or `webhook-id` value (CloudEvents HTTP binding 3.1.3.2):
 * decodes `%XX` runs that form valid UTF-8 and leaves anything else as it came, since the binding says senders
 * percent-encode, but some (the cloudevents SDK among them) send a bare `%` unencoded.
 *
 * @example
 * ```ts
 * percentDecode("Order%20#456"); // "Order #456"
 * ```
 */
export function percentDecode(value: string): string {
  return decodeRuns(value).text;
}

/**
 * Reads a received `ce-*` header back into its attribute value, all of CloudEvents HTTP binding 3.1.3.2: a value in
 * double quotes (as senders of older spec versions send one with spaces) is unquoted and its backslash escapes
 * undone, then its `%XX` runs are percent-decoded. Returns null when a run is not valid UTF-8 (an overlong
 * `%C0%A0`, a cut `%E2%82`), which the binding says to reject. A `%` without two hex digits stays as it came.
 *
 * @example
 * ```ts
 * headerValue('"Order #456"');     // "Order #456"
 * headerValue("Euro%20%E2%82%AC"); // "Euro €"
 * headerValue("%C0%A0");           // null
 * ```
 */
export function headerValue(raw: string): string | null {
  const quoted = raw.length >= 2 && /^"(?:[^"\\]|\\.)*"$/s.test(raw);
  const { text, valid } = decodeRuns(quoted ? raw.slice(1, -1).replace(/\\(.)/gs, "$1") : raw);
  return valid ? text : null;
}

/** Decodes each `%XX` run that is valid UTF-8, keeps the others as they came, and says whether there were any. */
function decodeRuns(value: string): { text: string; valid: boolean } {
  if (!value.includes("%")) return { text: value, valid: true };
  let valid = true;
  const text = value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      valid = false;
      return run;
    }
  });
  return { text, valid };
}

/**
 * Renders an event in binary content mode: every attribute except data as a percent-encoded `ce-` header,
 * `content-type` from `datacontenttype` (JSON when unset), and the data as the body.
 *
 * @example
 * ```ts
 * const { headers, body } = binaryMessage(new CloudEvent({ type: "user.created", source: "app", data: { id: 1 } }));
 * headers["ce-type"]; // "user.created"
 * ```
 */
export function binaryMessage(event: CloudEvent<unknown>): HttpMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of attributeEntries(event)) headers[`ce-${name}`] = percentEncode(value);
  const { contentType, body } = eventData(event);
  if (contentType) headers["content-type"] = contentType;
  return body ? { headers, body } : { headers };
}

/**
 * Renders an event in structured content mode: the whole event as one `application/cloudevents+json` document.
 *
 * @example
 * ```ts
 * const { headers, body } = structuredMessage(event);
 * headers["content-type"]; // "application/cloudevents+json; charset=utf-8"
 * ```
 */
export function structuredMessage(event: CloudEvent<unknown>): HttpMessage {
  return {
    headers: { "content-type": "application/cloudevents+json; charset=utf-8" },
    body: encoder.encode(JSON.stringify(event)),
  };
}

/** The same RFC 3339 form the SDK's `toJSON` writes, so binary and structured mode agree on `time`. */
function normaliseTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? time : new Date(ms).toISOString();
}

/** CloudEvents type system to string: Binary as base64, the rest (String, Integer, Boolean, URI...) as written. */
function attributeString(value: unknown): string {
  if (value instanceof Uint8Array) return toBase64(value);
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/**
 * Every context attribute and extension of an event except the data and its content type, as the CloudEvents type
 * system's canonical strings (`time` as the RFC 3339 form the SDK's `toJSON` writes, binary as base64): the one list
 * every binary-mode binding renders from, as `ce-` HTTP and NATS headers, AMQP application properties, MQTT user
 * properties and Redis stream fields. An `orderingKey` is added as the CloudEvents Partitioning extension's
 * `partitionkey`, unless the event carries one of its own.
 *
 * @example
 * ```ts
 * attributeEntries(new CloudEvent({ type: "user.created", source: "app", tenant: "acme" }), "user-1");
 * // [["id", "…"], ["time", "…"], ["type", "user.created"], ["source", "app"], ["specversion", "1.0"],
 * //  ["tenant", "acme"], ["partitionkey", "user-1"]]
 * ```
 */
export function attributeEntries(event: CloudEvent<unknown>, orderingKey?: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined || value === null || NOT_HEADERS.has(name)) continue;
    entries.push([name, name === "time" ? normaliseTime(String(value)) : attributeString(value)]);
  }
  if (orderingKey && !entries.some(([name]) => name === "partitionkey")) entries.push(["partitionkey", orderingKey]);
  return entries;
}

/**
 * An event's data as the bytes a binary-mode message carries, with their content type: JSON unless `datacontenttype`
 * says otherwise, a string under a non-JSON type as its UTF-8 text, bytes as they are. No data is no body (and a
 * content type only when the event declares one); JSON `null` is data, the bytes `null`.
 *
 * @example
 * ```ts
 * const { contentType, body } = eventData(new CloudEvent({ type: "t", source: "s", data: { id: 1 } }));
 * // contentType === "application/json"; body holds the bytes of '{"id":1}'
 * ```
 */
export function eventData(event: CloudEvent<unknown>): { contentType?: string; body?: Uint8Array<ArrayBuffer> } {
  const data = event.data;
  if (data === undefined) return event.datacontenttype ? { contentType: event.datacontenttype } : {};
  const contentType = event.datacontenttype ?? "application/json";
  if (data instanceof Uint8Array) return { contentType, body: new Uint8Array(data) };
  if (typeof data === "string" && !isJsonMediaType(contentType)) return { contentType, body: encoder.encode(data) };
  return { contentType, body: encoder.encode(JSON.stringify(data)) };
}
