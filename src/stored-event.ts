import { CloudEvent } from "cloudevents";
import { isExtensionName, SPECVERSION } from "./attributes.ts";
import type { EventRow } from "./record.ts";

/** The columns a CloudEvent is rebuilt from. */
export type CloudEventRow = Pick<
  EventRow,
  "id" | "source" | "type" | "specversion" | "time" | "subject" | "datacontenttype" | "dataschema" | "extensions" | "data"
>;

/**
 * Rebuilds the CloudEvent a worker hands its destinations from the stored row. It was validated when published, so
 * it is not validated again.
 *
 * The SDK's constructor copies its input, deletes each known attribute from the copy (which turns the copy into a
 * slow dictionary object), walks the rest with `Object.entries` and freezes the result: in a CPU profile of the
 * worker it was the largest single cost of a no-op delivery after garbage collection (bench/RESULTS.md, "Dispatch
 * regression"). A row as publish stores it (version 1.0, an id, extensions with admitted names) is therefore built
 * here with the same prototype, the same own properties in the same order and the same freeze, which is what the
 * constructor makes of it with `strict` off; test/stored-event.test.ts holds the two to each other. Any other row
 * goes through the constructor.
 *
 * @example
 * ```ts
 * const event = toCloudEvent(row);
 * event instanceof CloudEvent; // true
 * ```
 */
export function toCloudEvent(row: CloudEventRow): CloudEvent<unknown> {
  const extensions: Record<string, unknown> | null = row.extensions == null ? null : JSON.parse(row.extensions);
  const data = row.data == null ? undefined : JSON.parse(row.data);
  if (!row.id || row.specversion !== SPECVERSION || (extensions !== null && !admitted(extensions))) {
    return viaConstructor(row, extensions, data);
  }
  const event = Object.create(CloudEvent.prototype) as Record<string, unknown>;
  event.id = row.id;
  event.time = row.time || new Date().toISOString();
  event.type = row.type;
  event.source = row.source;
  event.specversion = row.specversion;
  event.datacontenttype = row.datacontenttype ?? undefined;
  event.subject = row.subject ?? undefined;
  event.datacontentencoding = undefined;
  event.dataschema = row.dataschema ?? undefined;
  event.data_base64 = undefined;
  event.schemaurl = undefined;
  event.data = data;
  if (extensions !== null) for (const name in extensions) event[name] = extensions[name];
  return Object.freeze(event) as unknown as CloudEvent<unknown>;
}

/** True when every extension has a name publish admits (none of them a core attribute). */
function admitted(extensions: Record<string, unknown>): boolean {
  for (const name in extensions) if (!isExtensionName(name)) return false;
  return true;
}

/** The SDK's own construction, for rows publish would not have stored. */
function viaConstructor(row: CloudEventRow, extensions: Record<string, unknown> | null, data: unknown): CloudEvent<unknown> {
  const attributes: Record<string, unknown> = extensions ?? {};
  attributes.id = row.id;
  attributes.source = row.source;
  attributes.type = row.type;
  attributes.specversion = row.specversion;
  attributes.time = row.time ?? undefined;
  if (row.subject != null) attributes.subject = row.subject;
  if (row.datacontenttype != null) attributes.datacontenttype = row.datacontenttype;
  if (row.dataschema != null) attributes.dataschema = row.dataschema;
  if (data !== undefined) attributes.data = data;
  return new CloudEvent<unknown>(attributes as never, false);
}
