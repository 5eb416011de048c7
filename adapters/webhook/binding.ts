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
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined || value === null || NOT_HEADERS.has(name)) continue;
    headers[`ce-${name}`] = percentEncode(name === "time" ? normaliseTime(String(value)) : attributeString(value));
  }
  const data = event.data;
  if (data === undefined) {
    if (event.datacontenttype) headers["content-type"] = event.datacontenttype;
    return { headers };
  }
  const contentType = event.datacontenttype ?? "application/json";
  headers["content-type"] = contentType;
  let body: Uint8Array<ArrayBuffer>;
  if (data instanceof Uint8Array) body = new Uint8Array(data);
  else if (typeof data === "string" && !isJsonMediaType(contentType)) body = encoder.encode(data);
  else body = encoder.encode(JSON.stringify(data));
  return { headers, body };
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
