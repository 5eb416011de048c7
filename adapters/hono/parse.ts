import type { MiddlewareHandler } from "hono";
import type { EventInput, ExtensionValue } from "../../src/event.ts";
import { isJsonMediaType, mediaType } from "../media.ts";
import { parseJson, readBody } from "./body.ts";
import { RequestError } from "./errors.ts";
import { headerValue } from "../webhook/binding.ts";

/** The limits a publish request must keep to. */
export interface PublishLimits {
  /** The largest body, in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /** The most events in one batch; more get 413. */
  maxBatchEvents: number;
}

/** A publish request read into event inputs for the Outbox. */
export interface PublishRequest {
  inputs: EventInput[];
  /** True when the caller sent a list, so the answer is a list too. */
  batch: boolean;
  /**
   * Maps a field named by the core (`type`, `data.x`, `[1].extensions.x`) to the one the caller wrote (`ce-type`,
   * `body`, `[1].x`).
   */
  rename(field: string): string;
}

const STRUCTURED = "application/cloudevents+json";
const BATCH = "application/cloudevents-batch+json";
/** CloudEvent attributes that are EventInput fields; every other attribute is an extension. */
const ATTRIBUTES = new Set(["id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data"]);

/**
 * Reads a publish request in any of its four forms: a plain JSON event (or a JSON array of them), a structured-mode
 * CloudEvent, a CloudEvents batch, or a binary-mode CloudEvent (`ce-*` headers, data as the body). Refuses, before
 * anything is written, what cannot be stored: other content types, non-JSON data, binary (`data_base64`) data, and
 * spec versions other than 1.0.
 *
 * @example
 * ```ts
 * const { inputs, batch } = await parsePublish(c.req.raw, { maxBodyBytes: 1_048_576, maxBatchEvents: 1000 });
 * ```
 */
export async function parsePublish(request: Request, limits: PublishLimits): Promise<PublishRequest> {
  const { maxBodyBytes } = limits;
  const media = mediaType(request.headers.get("content-type"));
  if (media === STRUCTURED) {
    const body = parseJson(await readBody(request, maxBodyBytes), "body");
    return { inputs: [structured(body, "")], batch: false, rename: unwrapExtension };
  }
  if (media === BATCH) {
    const body = parseJson(await readBody(request, maxBodyBytes), "body");
    if (!Array.isArray(body)) throw shape("A CloudEvents batch is a JSON array of events.");
    checkBatchSize(body, limits.maxBatchEvents);
    return { inputs: body.map((e, i) => structured(e, `[${i}].`)), batch: true, rename: unwrapExtension };
  }
  if (isBinary(request.headers)) return await binary(request, media, maxBodyBytes);
  if (media === "application/json") {
    const body = parseJson(await readBody(request, maxBodyBytes), "body");
    if (Array.isArray(body)) {
      checkBatchSize(body, limits.maxBatchEvents);
      return { inputs: body.map((e, i) => plain(e, `[${i}]`)), batch: true, rename: same };
    }
    return { inputs: [plain(body, "body")], batch: false, rename: same };
  }
  throw new RequestError(
    415,
    "unsupported_media_type",
    `Cannot publish a ${media ? `"${media}"` : "body without Content-Type"}: send application/json, ${STRUCTURED}, ${BATCH}, or a binary-mode CloudEvent (ce-* headers).`,
    "content-type",
  );
}

/**
 * The publish route's reader, as a Hono validator: it reads the request with {@link parsePublish} and hands the
 * handler `c.req.valid("json")`. Its input type is what Hono's typed client (`hc`) sends as `json`: one event or a
 * list of them (the CloudEvents forms are sent with their own content types, outside the typed client).
 *
 * @example
 * ```ts
 * app.post("/events", publishBody(limits), (c) => c.json(c.req.valid("json").inputs));
 * ```
 */
export function publishBody(limits: PublishLimits): MiddlewareHandler<
  object,
  string,
  { in: { json: EventInput | EventInput[] }; out: { json: PublishRequest } }
> {
  return async (c, next) => {
    c.req.addValidatedData("json", await parsePublish(c.req.raw, limits));
    await next();
  };
}

/**
 * A batch is one statement and one transaction: tens of thousands of tiny events in one body would hold a connection
 * and the event loop while other requests wait.
 */
function checkBatchSize(events: unknown[], max: number): void {
  if (events.length <= max) return;
  throw new RequestError(
    413,
    "payload_too_large",
    `This batch holds ${events.length} events, more than the ${max} one request may publish (the router's maxBatchEvents); send it in smaller batches.`,
    "body",
  );
}

function plain(value: unknown, where: string): EventInput {
  if (!isObject(value)) throw shape(`Each event (${where}) must be a JSON object with at least type, source and data.`);
  return value as unknown as EventInput;
}

/** A structured-mode CloudEvent: attributes at the top level, extensions beside them. */
function structured(value: unknown, prefix: string): EventInput {
  if (!isObject(value)) throw shape(`A CloudEvent ${prefix ? `(${prefix.slice(0, -1)}) ` : ""}must be a JSON object.`);
  const { specversion, data_base64, ...attributes } = value;
  checkSpecversion(specversion, `${prefix}specversion`);
  checkId(attributes.id, `${prefix}id`);
  if (data_base64 !== undefined) {
    throw new RequestError(422, "invalid_data", "Binary data (data_base64) cannot be stored; send the data as JSON in `data`.", `${prefix}data_base64`);
  }
  const input: Record<string, unknown> = {};
  // Without a prototype: on a plain object an attribute named `__proto__` would set the prototype and vanish, and the
  // event would be stored without it instead of refused.
  const extensions: Record<string, unknown> = Object.create(null);
  for (const [name, v] of Object.entries(attributes)) {
    // JSON format: a null attribute is an absent one (but null data is the JSON value null).
    if (v === null && name !== "data") continue;
    if (ATTRIBUTES.has(name)) input[name] = v;
    else extensions[name] = v;
  }
  if (Object.keys(extensions).length) input.extensions = extensions as Record<string, ExtensionValue>;
  return input as unknown as EventInput;
}

function isBinary(headers: Headers): boolean {
  for (const name of headers.keys()) if (name.startsWith("ce-")) return true;
  return false;
}

/** A binary-mode CloudEvent: attributes in percent-encoded `ce-*` headers, datacontenttype in Content-Type, data as the body. */
async function binary(request: Request, media: string, maxBodyBytes: number): Promise<PublishRequest> {
  const input: Record<string, unknown> = {};
  const extensions: Record<string, ExtensionValue> = Object.create(null); // see structured()
  let specversion: string | undefined;
  for (const [header, raw] of request.headers) {
    if (!header.startsWith("ce-")) continue;
    const name = header.slice(3);
    const value = attributeHeader(header, raw);
    if (name === "specversion") specversion = value;
    else if (name === "datacontenttype") continue; // Content-Type carries it in binary mode.
    else if (ATTRIBUTES.has(name) && name !== "data") input[name] = value;
    else extensions[name] = value;
  }
  checkSpecversion(specversion, "ce-specversion");
  checkId(input.id, "ce-id");
  if (Object.keys(extensions).length) input.extensions = extensions;
  const bytes = await readBody(request, maxBodyBytes);
  if (bytes.byteLength > 0) {
    if (!isJsonMediaType(media)) {
      throw new RequestError(
        415,
        "unsupported_media_type",
        `The outbox stores JSON data only, and this body is ${media ? `"${media}"` : "untyped"}; send it as application/json (or a +json type).`,
        "content-type",
      );
    }
    input.data = parseJson(bytes, "body");
    input.datacontenttype = request.headers.get("content-type");
  }
  return { inputs: [input as unknown as EventInput], batch: false, rename: toHeader };
}

/**
 * A CloudEvent must carry its id. The core would give an event without one a generated UUID (right for plain JSON, where
 * the id is optional), and a resend would then be stored twice. (The receiver's inbox keys on it too.)
 *
 * @example
 * ```ts
 * checkId(headers.get("ce-id") ?? undefined, "ce-id"); // throws a 422 RequestError when absent or empty
 * ```
 */
export function checkId(value: unknown, field: string): void {
  if (typeof value === "string" && value.length > 0) return;
  throw new RequestError(422, "invalid_event", `${field} is required in a CloudEvent: a non-empty string, the same on every resend.`, field);
}

/**
 * A `ce-*` header's attribute value (unquoted, percent-decoded: {@link headerValue}), or a 422 naming the header when
 * its percent-encoded bytes are not UTF-8, which the CloudEvents HTTP binding says to reject.
 *
 * @example
 * ```ts
 * attributeHeader("ce-subject", "Order%20%23456"); // "Order #456"
 * ```
 */
export function attributeHeader(header: string, raw: string): string {
  const value = headerValue(raw);
  if (value !== null) return value;
  throw new RequestError(
    422,
    "invalid_event",
    `${header} holds percent-encoded bytes that are not UTF-8; encode the value's UTF-8 bytes (CloudEvents HTTP binding 3.1.3.2).`,
    header,
  );
}

/**
 * Refuses (422) any CloudEvents spec version but 1.0, naming the field it came in.
 *
 * @example
 * ```ts
 * checkSpecversion(body.specversion, "specversion");
 * ```
 */
export function checkSpecversion(value: unknown, field: string): void {
  if (value === "1.0") return;
  throw new RequestError(
    422,
    "invalid_event",
    value === undefined
      ? `${field} is missing; CloudEvents must say specversion "1.0".`
      : `${field} must be "1.0" (the version this outbox stores), got ${JSON.stringify(value)}.`,
    field,
  );
}

function same(field: string): string {
  return field;
}

/** CloudEvents carry extensions beside the core attributes: `extensions.x` is `x`, `[1].extensions.x` is `[1].x`. */
function unwrapExtension(field: string): string {
  return field.replace(/^(\[\d+\]\.)?extensions\./, "$1");
}

function toHeader(field: string): string {
  if (field === "data" || field.startsWith("data.") || field.startsWith("data[")) return "body";
  return `ce-${unwrapExtension(field)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function shape(message: string): RequestError {
  return new RequestError(400, "invalid_request", message, "body");
}
