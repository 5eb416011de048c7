import { DispatchError } from "./errors.ts";

/**
 * The CloudEvents 1.0 attribute rules (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md), in one
 * place. Publishing checks attributes here instead of building the SDK's `CloudEvent` per event: the class stays
 * the public event type (handlers receive one), but constructing it costs a copy, a UUID, a freeze and a JSON Schema
 * run per event, and a bulk publish paid that for every event. The rules are those of the SDK's schema: `id`,
 * `source`, `specversion` and `type` are required non-empty strings; `source` is a URI-reference, `dataschema` a URI,
 * `time` an RFC 3339 timestamp; optional attributes, when present, are non-empty strings (null counts as absent);
 * extension names are lower-case ASCII letters and digits, their values strings, integers or booleans.
 */

/** Attributes of a CloudEvent that are not extensions (the SDK's class has all of these as properties). */
export const CORE_ATTRIBUTES: ReadonlySet<string> = new Set([
  "id", "type", "source", "specversion", "subject", "time", "datacontenttype", "dataschema", "data",
  "data_base64", "schemaurl", "datacontentencoding",
]);

/** The only CloudEvents version this outbox stores. */
export const SPECVERSION = "1.0";

/** CloudEvents attribute names: lower-case ASCII letters and digits. */
const NAME = /^[a-z0-9]+$/;
// RFC 3986 characters: unreserved, reserved and percent-encoded octets (what a URI-reference may be made of).
const URI_REFERENCE = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
// An absolute URI: a scheme, then the same characters.
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
// RFC 3339 date-time (section 5.6); ranges are checked below.
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** The attributes the rules look at; anything else on the object is an extension. */
export interface Attributes {
  id?: unknown;
  source?: unknown;
  type?: unknown;
  specversion?: unknown;
  subject?: unknown;
  time?: unknown;
  datacontenttype?: unknown;
  dataschema?: unknown;
}

/**
 * Checks a CloudEvent's core attributes; throws a DispatchError (`invalid_event`) naming the first wrong one.
 *
 * @example
 * ```ts
 * checkAttributes({ id: "1", source: "/users", type: "user.created", specversion: "1.0" }); // passes
 * ```
 */
export function checkAttributes(a: Attributes): void {
  required("id", a.id);
  required("source", a.source);
  if (!URI_REFERENCE.test(a.source as string)) refuse("source", "must be a URI-reference (RFC 3986)");
  required("specversion", a.specversion);
  if (a.specversion !== SPECVERSION) refuse("specversion", `must be "${SPECVERSION}"`);
  required("type", a.type);
  optional("subject", a.subject);
  optional("datacontenttype", a.datacontenttype);
  if (optional("dataschema", a.dataschema) && !URI.test(a.dataschema as string)) refuse("dataschema", "must be an absolute URI (RFC 3986)");
  if (optional("time", a.time) && !isTimestamp(a.time as string)) refuse("time", "must be an RFC 3339 timestamp, such as 2025-01-02T03:04:05Z");
}

/**
 * Checks one extension attribute: its name, that it is not a core attribute, and its value's type.
 *
 * @example
 * ```ts
 * checkExtension("tenant", "acme"); // passes; checkExtension("Tenant", "acme") throws
 * ```
 */
export function checkExtension(name: string, value: unknown): void {
  const field = `extensions.${name}`;
  if (CORE_ATTRIBUTES.has(name)) {
    throw new DispatchError("invalid_event", `Extension "${name}" is a CloudEvent core attribute; set it directly instead.`, { field });
  }
  if (!(typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isInteger(value)))) {
    throw new DispatchError("invalid_event", `Extension "${name}" must be a string, an integer or a boolean.`, { field });
  }
  if (!NAME.test(name)) {
    throw new DispatchError("invalid_event", `Invalid CloudEvent: extension name "${name}" must be lower-case letters and digits only.`, { field });
  }
}

/** True for a CloudEvents attribute name, core or extension: lower-case letters and digits. */
export function isAttributeName(name: string): boolean {
  return NAME.test(name);
}

/** True for a name publish admits as an extension: lower-case letters and digits, and not a core attribute. */
export function isExtensionName(name: string): boolean {
  return !CORE_ATTRIBUTES.has(name) && NAME.test(name);
}

function required(field: string, value: unknown): void {
  if (value === undefined || value === null) refuse(field, "is required");
  if (typeof value !== "string") refuse(field, "must be a string");
  if (value.length === 0) refuse(field, "must not be empty");
}

/** Whether an optional attribute is present; when it is, it must be a non-empty string. */
function optional(field: string, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "string") refuse(field, "must be a string");
  if (value.length === 0) refuse(field, "must not be empty (leave it out instead)");
  return true;
}

function isTimestamp(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
  // 60 is a leap second; JavaScript's Date cannot hold one, so it is refused rather than stored as a time no
  // consumer can parse.
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
}

function refuse(field: string, what: string): never {
  throw new DispatchError("invalid_event", `Invalid CloudEvent: ${field} ${what}.`, { field });
}
