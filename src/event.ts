import { CloudEvent, ValidationError } from "cloudevents";
import { DispatchError } from "./errors.ts";
import { dataToJson, utf8Length } from "./json.ts";
import { assertKnownKeys, wholeNumber } from "./options.ts";
import { isStorable } from "./text.ts";

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
 * An event to publish: the CloudEvent attributes (the seed's `event_type` is `type`) plus delivery options.
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
  /** Defaults to a random UUID. Publishing the same source + id again stores nothing new. */
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
/** Attributes of the SDK's CloudEvent that are not extensions. */
const CORE_ATTRIBUTES = new Set([
  "id", "type", "source", "specversion", "subject", "time", "datacontenttype", "dataschema", "data",
  "data_base64", "schemaurl", "datacontentencoding",
]);

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
  const { scheduledAt, maxRetries, orderingKey, extensions, data, time, ...attributes } = input;
  if (extensions !== undefined && (extensions === null || typeof extensions !== "object" || Array.isArray(extensions))) {
    throw new DispatchError("invalid_event", "extensions must be an object of attribute name to string, number or boolean.", { field: "extensions" });
  }
  for (const [name, value] of Object.entries(extensions ?? {})) {
    if (CORE_ATTRIBUTES.has(name)) {
      throw new DispatchError("invalid_event", `Extension "${name}" is a CloudEvent core attribute; set it directly instead.`, { field: `extensions.${name}` });
    }
    if (!["string", "number", "boolean"].includes(typeof value) || (typeof value === "number" && !Number.isInteger(value))) {
      throw new DispatchError("invalid_event", `Extension "${name}" must be a string, an integer or a boolean.`, { field: `extensions.${name}` });
    }
    if (!/^[a-z0-9]+$/.test(name)) {
      throw new DispatchError("invalid_event", `Invalid CloudEvent: extension name "${name}" must be lower-case letters and digits only.`, { field: `extensions.${name}` });
    }
  }
  if (attributes.id !== undefined && (typeof attributes.id !== "string" || attributes.id.length === 0)) {
    // The SDK would quietly replace an empty id with a random one, and a resend would be stored twice.
    throw new DispatchError("invalid_event", "Invalid CloudEvent: id must be a non-empty string (or left out for a random UUID).", { field: "id" });
  }
  const event = validated({
    ...extensions,
    ...attributes,
    time: time instanceof Date ? isoTime(time, "time") : time,
    datacontenttype: attributes.datacontenttype ?? "application/json",
  });
  return toRow(event, data, { scheduledAt, maxRetries, orderingKey }, extensions ?? null, maxPayloadBytes);
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
  const checked = event instanceof CloudEvent ? revalidated(event) : validated(event as object);
  const extensions: Record<string, ExtensionValue> = {};
  for (const [key, value] of Object.entries(checked)) {
    if (!CORE_ATTRIBUTES.has(key) && value !== undefined) extensions[key] = value as ExtensionValue;
  }
  return toRow(checked, checked.data, options, Object.keys(extensions).length ? extensions : null, maxPayloadBytes);
}

function toRow(
  event: CloudEvent<unknown>,
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
    max_retries: options.maxRetries === undefined ? null : wholeNumber(options.maxRetries, "maxRetries", 0, 0, 1000),
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

function revalidated(event: CloudEvent<unknown>): CloudEvent<unknown> {
  try {
    event.validate();
    return event;
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
