import type { CloudEvent } from "cloudevents";
import { attributeEntries, eventData } from "../webhook/binding.ts";

const decoder = new TextDecoder();

/**
 * Renders an event as the fields of one Redis stream entry. Redis has no CloudEvents binding; this one follows the
 * Kafka binding's binary mode, since a stream entry, like a Kafka record's headers, is a flat list of name/value
 * pairs: each attribute as `ce_<name>` (its canonical string), `datacontenttype` as `content-type`, and the data as
 * `data` (UTF-8 text: JSON unless the content type says otherwise; absent when the event has no data). The ordering
 * key is `ce_partitionkey`, as in the Kafka binding's Partitioning extension. A consumer rebuilds the event from
 * the `ce_` fields, and de-duplicates on `ce_id` (with `ce_source`).
 *
 * @example
 * ```ts
 * redisFields(new CloudEvent({ type: "user.created", source: "app", data: { id: 1 } }));
 * // { ce_id: "…", ce_time: "…", ce_type: "user.created", ce_source: "app", ce_specversion: "1.0",
 * //   "content-type": "application/json", data: '{"id":1}' }
 * ```
 */
export function redisFields(event: CloudEvent<unknown>, orderingKey?: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of attributeEntries(event, orderingKey)) fields[`ce_${name}`] = value;
  const { contentType, body } = eventData(event);
  if (contentType) fields["content-type"] = contentType;
  if (body) fields.data = decoder.decode(body);
  return fields;
}
