import type { CloudEvent } from "cloudevents";
import { isAttributeName } from "../../src/attributes.ts";
import { DispatchError } from "../../src/errors.ts";
import { ATTRIBUTE_LIMITS, validated } from "../../src/event.ts";
import { utf8Length } from "../../src/json.ts";
import { isStorable } from "../../src/text.ts";
import { parseJson } from "../hono/body.ts";
import { refused, RequestError } from "../hono/errors.ts";
import { attributeHeader, checkId, checkSpecversion } from "../hono/parse.ts";
import { isCloudEventsMediaType, isJsonMediaType, mediaType } from "../media.ts";
import { fromBase64 } from "../../src/base64.ts";

const STRUCTURED = "application/cloudevents+json";
const BATCH = "application/cloudevents-batch+json";
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The events of one HTTP request, and whether it was a batch. */
export interface DecodedRequest {
  mode: "binary" | "structured" | "batch";
  events: CloudEvent<unknown>[];
}

/**
 * Reads the CloudEvents HTTP binding: structured mode (`application/cloudevents+json`), a batch
 * (`application/cloudevents-batch+json`), or binary mode (`ce-*` headers, unquoted and percent-decoded per section
 * 3.1.3.2, with `Content-Type` as datacontenttype and the body as data). Data is the parsed JSON for JSON types (and
 * no type), text for `text/*`, bytes otherwise, and bytes for structured `data_base64`. Throws a RequestError (400,
 * 415 or 422) naming the field at fault.
 *
 * @example
 * ```ts
 * const { events } = decodeHttp(request.headers, body);
 * ```
 */
export function decodeHttp(headers: Headers, body: Uint8Array): DecodedRequest {
  const contentType = headers.get("content-type");
  const media = mediaType(contentType);
  if (media === STRUCTURED) return { mode: "structured", events: [structured(parseJson(body, "body"), "")] };
  if (media === BATCH) {
    const list = parseJson(body, "body");
    if (!Array.isArray(list)) throw new RequestError(400, "invalid_request", "A CloudEvents batch is a JSON array of events.", "body");
    return { mode: "batch", events: list.map((e, i) => structured(e, `[${i}].`)) };
  }
  if (isCloudEventsMediaType(media)) {
    throw new RequestError(415, "unsupported_media_type", `Cannot read "${media}": send ${STRUCTURED}, ${BATCH}, or a binary-mode CloudEvent.`, "content-type");
  }
  const attributes: Record<string, unknown> = {};
  for (const [header, raw] of headers) {
    if (!header.startsWith("ce-")) continue;
    const name = header.slice(3);
    checkAttributeName(name, header, "data travels in the body, its type in Content-Type");
    attributes[name] = attributeHeader(header, raw);
  }
  if (Object.keys(attributes).length === 0) {
    throw new RequestError(
      415,
      "unsupported_media_type",
      `This is not a CloudEvent: no ce-* headers, and Content-Type is ${media ? `"${media}"` : "missing"}; send a binary-mode CloudEvent, ${STRUCTURED} or ${BATCH}.`,
      "content-type",
    );
  }
  checkSpecversion(attributes.specversion, "ce-specversion");
  checkId(attributes.id, "ce-id");
  if (contentType) attributes.datacontenttype = contentType;
  if (body.byteLength > 0) attributes.data = bodyData(body, media, "body");
  return { mode: "binary", events: [event(attributes, (f) => f === "data" || f.startsWith("data.") ? "body" : `ce-${f}`)] };
}

/** A structured-mode CloudEvent, alone or in a batch (`prefix` "[3]." names its place). */
export function structured(value: unknown, prefix: string): CloudEvent<unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new RequestError(400, "invalid_request", `A CloudEvent ${prefix ? `(${prefix.slice(0, -1)}) ` : ""}must be a JSON object.`, prefix ? prefix.slice(0, -1) : "body");
  }
  const { data_base64, ...attributes } = value as Record<string, unknown>;
  checkSpecversion(attributes.specversion, `${prefix}specversion`);
  checkId(attributes.id, `${prefix}id`);
  for (const [name, v] of Object.entries(attributes)) if (v === null && name !== "data") delete attributes[name];
  if (data_base64 !== undefined && data_base64 !== null) {
    if (typeof data_base64 !== "string") throw bad(`${prefix}data_base64 must be a base64 string.`, `${prefix}data_base64`);
    try {
      attributes.data = fromBase64(data_base64);
    } catch {
      throw bad(`${prefix}data_base64 is not valid base64.`, `${prefix}data_base64`);
    }
  }
  return event(attributes, (f) => prefix + f.replace(/^extensions\./, ""));
}

/**
 * Refuses (422) a binary-mode attribute that is not one: names are lower-case letters and digits, and the data and
 * its content type travel elsewhere (`carriers` says where), never as `ce-data` or `ce-datacontenttype`.
 */
export function checkAttributeName(name: string, field: string, carriers: string): void {
  if (isAttributeName(name) && name !== "data" && name !== "datacontenttype") return;
  throw new RequestError(422, "invalid_event", `${field} is not a CloudEvent attribute (names are lower-case letters and digits; ${carriers}).`, field);
}

/**
 * Binary-mode data: parsed JSON for JSON types and untyped bodies, text for `text/*`, bytes otherwise; `field`
 * names where it came from in a refusal.
 */
export function bodyData(body: Uint8Array, media: string, field: string): unknown {
  if (media === "" || isJsonMediaType(media)) return parseJson(body, field);
  if (media.startsWith("text/")) {
    try {
      return decoder.decode(body);
    } catch {
      throw new RequestError(400, "invalid_request", `The ${field} is "${media}" but not valid UTF-8.`, field);
    }
  }
  return new Uint8Array(body);
}

/**
 * Validates through the SDK (the one the outbox publishes with), then refuses what the inbox could not key on:
 * a source or id PostgreSQL cannot store as it is, or one over the outbox's own limits, would otherwise fail the
 * transaction with a 500 and be retried forever.
 */
export function event(attributes: Record<string, unknown>, rename: (field: string) => string): CloudEvent<unknown> {
  let checked: CloudEvent<unknown>;
  try {
    checked = validated(attributes);
  } catch (err) {
    throw err instanceof DispatchError ? refused(err, 422, rename) : err;
  }
  for (const field of ["id", "source", "type"] as const) {
    const value = checked[field];
    if (!isStorable(value) || utf8Length(value, ATTRIBUTE_LIMITS[field]) > ATTRIBUTE_LIMITS[field]) {
      throw bad(
        `${rename(field)} must be well-formed text without NUL, at most ${ATTRIBUTE_LIMITS[field]} bytes.`,
        rename(field),
      );
    }
  }
  return checked;
}

function bad(message: string, field: string): RequestError {
  return new RequestError(422, "invalid_event", message, field);
}
