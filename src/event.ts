import { CloudEvent, ValidationError } from "cloudevents";
import { checkAttributes, checkExtension, CORE_ATTRIBUTES, SPECVERSION } from "./attributes.ts";
import { DispatchError } from "./errors.ts";
import { dataToJson, utf8Length } from "./json.ts";
import { assertKnownKeys, wholeNumber } from "./options.ts";
import { MAX_RETRIES } from "./retry.ts";
import { isStorable } from "./text.ts";
import { newEventId } from "./event-id.ts";

/** Values a CloudEvent extension attribute may hold. */
export type ExtensionValue = string | number | boolean;

/** How an event is delivered, apart from what it says. */
export interface DeliveryOptions {
  /** Nothing is delivered before this time. */
  scheduledAt?: Date | string | undefined;
  /** Retries after the first attempt, per destination; defaults to the outbox's `retry.maxRetries`. */
  maxRetries?: number | undefined;
  /** Events sharing a key reach each destination in publish order, one at a time. */
  orderingKey?: string | undefined;
}

/**
 * An event to publish: the CloudEvent attributes (Django Dispatch's `event_type` is `type`) plus delivery options.
 *
 * @example
 * ```ts
 * const input: EventInput = { type: "user.created", source: "user-service", data: { user_id: 123 } };
 * ```
 */
export interface EventInput extends DeliveryOptions {
  type: string;
  source: string;
  data?: unknown | undefined;
  /** Defaults to a new UUID (version 7, time-ordered). Publishing the same source + id again stores nothing new. */
  id?: string | undefined;
  subject?: string | undefined;
  /** Defaults to now. */
  time?: Date | string | undefined;
  /** Defaults to `application/json`. */
  datacontenttype?: string | undefined;
  dataschema?: string | undefined;
  /** CloudEvent extension attributes; names are lower-case letters and digits. */
  extensions?: Record<string, ExtensionValue> | undefined;
}

/** An event checked and ready to store. */
export interface NewEvent {
  id: string;
  source: string;
  type: string;
  specversion: string;
  subject: string | null;
  time: string;
  datacontenttype: string;
  dataschema: string | null;
  extensions: Record<string, ExtensionValue> | null;
  /** The data as JSON text, or null for none. */
  data: string | null;
  scheduled_at: string | null;
  max_retries: number | null;
  ordering_key: string | null;
}

const INPUT_KEYS = [
  "type", "source", "data", "id", "subject", "time", "datacontenttype", "dataschema", "extensions",
  "scheduledAt", "maxRetries", "orderingKey",
] as const;
const DELIVERY_KEYS = ["scheduledAt", "maxRetries", "orderingKey"] as const;

/**
 * The longest value each string attribute may have, in UTF-8 bytes. `id` + `source` and `orderingKey` are indexed,
 * and an index entry must stay under PostgreSQL's ~2.7 kB btree limit; `type` keys the registry's cache. The rest are
 * bounded so that a producer cannot make every read of the event, every log line and every delivery huge.
 */
export const ATTRIBUTE_LIMITS = {
  id: 1024,
  source: 1024,
  type: 1024,
  orderingKey: 1024,
  subject: 4096,
  datacontenttype: 1024,
  dataschema: 4096,
  time: 64,
  extension: 4096,
} as const;

/** Checks a plain event input and turns it into a row; throws a DispatchError naming what is wrong. */
export function fromInput(input: EventInput, maxPayloadBytes: number): NewEvent {
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new DispatchError("invalid_event", "An event must be an object with at least type and source.");
  }
  assertKnownKeys(input, INPUT_KEYS, "the event (CloudEvent extensions go in `extensions`)");
  const { extensions } = input;
  if (extensions !== undefined && (extensions === null || typeof extensions !== "object" || Array.isArray(extensions))) {
    throw new DispatchError("invalid_event", "extensions must be an object of attribute name to string, number or boolean.", { field: "extensions" });
  }
  let ext: Record<string, ExtensionValue> | null = null;
  if (extensions !== undefined) {
    for (const name of Object.keys(extensions)) checkExtension(name, extensions[name]);
    if (Object.keys(extensions).length) ext = extensions;
  }
  if (input.id !== undefined && (typeof input.id !== "string" || input.id.length === 0)) {
    // A resend must carry the same id, or it would be stored twice: never replace an empty one with a random one.
    throw new DispatchError("invalid_event", "Invalid CloudEvent: id must be a non-empty string (or left out for a generated UUID).", { field: "id" });
  }
  // The attributes as the event will carry them; the rules of attributes.ts, without building an SDK object.
  const attributes = {
    id: input.id ?? newEventId(),
    source: input.source,
    type: input.type,
    specversion: SPECVERSION,
    subject: input.subject,
    time: input.time instanceof Date ? isoTime(input.time, "time") : input.time,
    datacontenttype: input.datacontenttype ?? "application/json",
    dataschema: input.dataschema,
  };
  checkAttributes(attributes);
  // The time now needs no checking: the rules apply to what the producer sent.
  attributes.time ??= new Date().toISOString();
  return toRow(attributes as CheckedAttributes, input.data, input, ext, maxPayloadBytes);
}

/** Checks a CloudEvent instance (or a plain object with its attributes) and turns it into a row. */
export function fromCloudEvent(event: CloudEvent<unknown>, options: DeliveryOptions, maxPayloadBytes: number): NewEvent {
  if (event === null || typeof event !== "object") {
    throw new DispatchError("invalid_event", "publishCloudEvent takes a CloudEvent.");
  }
  assertKnownKeys(options, DELIVERY_KEYS, "publishCloudEvent options");
  if (event.data_base64 !== undefined) {
    throw new DispatchError("invalid_data", "Binary data (data_base64) is not supported; publish JSON data.", { field: "data_base64" });
  }
  const plain = !(event instanceof CloudEvent);
  const e = event as unknown as Record<string, unknown>;
  // A plain object gets the SDK class's defaults (a random id, the time now, version 1.0); an instance has them.
  const attributes = {
    id: plain && (e.id === undefined || e.id === "") ? newEventId() : e.id,
    source: e.source,
    type: e.type,
    specversion: plain ? e.specversion || SPECVERSION : e.specversion,
    subject: e.subject ?? undefined,
    time: plain && !e.time ? new Date().toISOString() : e.time instanceof Date ? isoTime(e.time, "time") : e.time,
    datacontenttype: e.datacontenttype ?? undefined,
    dataschema: e.dataschema ?? undefined,
  };
  const extensions: Record<string, ExtensionValue> = {};
  let any = false;
  for (const key of Object.keys(event)) {
    const value = e[key];
    if (CORE_ATTRIBUTES.has(key) || value === undefined) continue;
    checkExtension(key, value);
    extensions[key] = value as ExtensionValue;
    any = true;
  }
  checkAttributes(attributes);
  return toRow(attributes as CheckedAttributes, e.data, options, any ? extensions : null, maxPayloadBytes);
}

/** Core attributes that passed {@link checkAttributes}. */
interface CheckedAttributes {
  id: string;
  source: string;
  type: string;
  specversion: string;
  subject?: string | undefined;
  time?: string | undefined;
  datacontenttype?: string | undefined;
  dataschema?: string | undefined;
}

function toRow(
  event: CheckedAttributes,
  data: unknown,
  options: DeliveryOptions,
  extensions: Record<string, ExtensionValue> | null,
  maxPayloadBytes: number,
): NewEvent {
  const json = dataToJson(data) ?? null;
  if (json !== null) {
    const size = utf8Length(json, maxPayloadBytes);
    if (size > maxPayloadBytes) {
      throw new DispatchError(
        "payload_too_large",
        `Event data is ${size} bytes, over the ${maxPayloadBytes}-byte limit (the outbox's maxPayloadBytes option); store large payloads elsewhere and publish a reference.`,
        { field: "data" },
      );
    }
  }
  const { orderingKey } = options;
  if (orderingKey !== undefined && (typeof orderingKey !== "string" || orderingKey.length === 0)) {
    throw new DispatchError("invalid_option", "orderingKey must be a non-empty string.", { field: "orderingKey" });
  }
  checkText("id", event.id, ATTRIBUTE_LIMITS.id);
  checkText("source", event.source, ATTRIBUTE_LIMITS.source);
  checkText("type", event.type, ATTRIBUTE_LIMITS.type);
  checkText("subject", event.subject, ATTRIBUTE_LIMITS.subject);
  checkText("datacontenttype", event.datacontenttype, ATTRIBUTE_LIMITS.datacontenttype);
  checkText("dataschema", event.dataschema, ATTRIBUTE_LIMITS.dataschema);
  checkText("time", event.time, ATTRIBUTE_LIMITS.time);
  checkText("orderingKey", orderingKey, ATTRIBUTE_LIMITS.orderingKey);
  for (const [name, value] of Object.entries(extensions ?? {})) checkText(`extensions.${name}`, value, ATTRIBUTE_LIMITS.extension);
  return {
    id: event.id,
    source: event.source,
    type: event.type,
    specversion: event.specversion,
    subject: event.subject ?? null,
    time: event.time ?? new Date().toISOString(),
    datacontenttype: event.datacontenttype ?? "application/json",
    dataschema: event.dataschema ?? null,
    extensions,
    data: json,
    scheduled_at: options.scheduledAt === undefined ? null : isoTime(options.scheduledAt, "scheduledAt"),
    max_retries: options.maxRetries === undefined ? null : wholeNumber(options.maxRetries, "maxRetries", 0, 0, MAX_RETRIES),
    ordering_key: orderingKey ?? null,
  };
}

/**
 * Refuses a string PostgreSQL cannot store as it is (NUL, a lone surrogate: the driver would silently rewrite it, and
 * two different ids could then collide) or one over its limit. Non-strings are the SDK's business.
 */
function checkText(field: string, value: unknown, limit: number): void {
  if (typeof value !== "string") return;
  if (!isStorable(value)) {
    throw new DispatchError(
      "invalid_event",
      `Invalid CloudEvent: ${field} contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored; send well-formed text.`,
      { field },
    );
  }
  const bytes = utf8Length(value, limit);
  if (bytes > limit) {
    throw new DispatchError("invalid_event", `Invalid CloudEvent: ${field} is ${bytes} bytes, over its ${limit}-byte limit.`, { field });
  }
}

/**
 * Builds a CloudEvent through the SDK's validation, or throws a DispatchError (`invalid_event`) naming the field.
 *
 * @example
 * ```ts
 * validated({ type: "user.created", source: "users", id: "1", data: { id: 1 } });
 * ```
 */
export function validated(attributes: object): CloudEvent<unknown> {
  try {
    return new CloudEvent<unknown>(attributes as never);
  } catch (err) {
    throw invalid(err);
  }
}


/** Rewrites the SDK's schema errors ("must NOT have fewer than 1 characters" at /type) into one plain sentence. */
function invalid(err: unknown): DispatchError {
  if (err instanceof ValidationError) {
    const details = (err.errors ?? []) as Array<{ instancePath?: string; message?: string; params?: { missingProperty?: string } } | string>;
    const first = details[0];
    const field = typeof first === "object" && first
      ? (first.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".") || first.params?.missingProperty || undefined
      : /invalid extension name: (\S+)/.exec(err.message)?.[1]?.replace(/^/, "extensions.");
    const reason = typeof first === "object" && first
      ? `${(first.instancePath ?? "").replace(/^\//, "") || "event"} ${first.message}`
      : err.message.split("\n")[0];
    return new DispatchError("invalid_event", `Invalid CloudEvent: ${reason}.`, { cause: err, field });
  }
  return new DispatchError("invalid_event", `Invalid CloudEvent: ${(err as Error)?.message ?? err}.`, { cause: err });
}

function isoTime(value: Date | string, name: string): string {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new DispatchError("invalid_option", `${name} must be a Date or an ISO 8601 string, got ${JSON.stringify(value)}.`, { field: name });
  }
  return date.toISOString();
}
