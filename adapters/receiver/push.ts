import type { CloudEvent } from "cloudevents";
import { parseJson } from "../hono/body.ts";
import { RequestError } from "../hono/errors.ts";
import { checkId, checkSpecversion } from "../hono/parse.ts";
import { mediaType } from "../media.ts";
import { fromBase64 } from "../../src/base64.ts";
import { bodyData, checkAttributeName, event, structured } from "./decode.ts";

const STRUCTURED = "application/cloudevents+json";

/**
 * Reads a Pub/Sub push request (`{ message: { data, attributes, messageId, ... }, subscription }`) as a CloudEvent
 * in the CloudEvents Pub/Sub binding: binary mode takes the `ce-*` attributes and the content type from
 * `Content-Type` (or `content-type`, or `contentType`, as pg-dispatch's Pub/Sub destination also sets), with the
 * message data as the data; a content type of `application/cloudevents+json` is structured mode, the whole event in
 * the data. Pub/Sub attribute values are plain strings: nothing is percent-decoded.
 *
 * @example
 * ```ts
 * const event = decodePush(new TextEncoder().encode(await request.text()));
 * ```
 */
export function decodePush(body: Uint8Array): CloudEvent<unknown> {
  const envelope = parseJson(body, "body") as { message?: unknown } | null;
  const message = envelope !== null && typeof envelope === "object" ? envelope.message : undefined;
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new RequestError(400, "invalid_request", "A Pub/Sub push body is a JSON object with a `message` object (the push subscription's wrapped format).", "message");
  }
  const { data, attributes = {} } = message as { data?: unknown; attributes?: unknown };
  if (attributes === null || typeof attributes !== "object" || Array.isArray(attributes)) {
    throw new RequestError(400, "invalid_request", "message.attributes must be an object of strings.", "message.attributes");
  }
  if (data !== undefined && typeof data !== "string") {
    throw new RequestError(400, "invalid_request", "message.data must be a base64 string.", "message.data");
  }
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(data ?? "");
  } catch {
    throw new RequestError(400, "invalid_request", "message.data is not valid base64.", "message.data");
  }
  const attrs = attributes as Record<string, unknown>;
  const contentType = [attrs["Content-Type"], attrs["content-type"], attrs.contentType].find((v) => typeof v === "string") as
    | string
    | undefined;
  const media = mediaType(contentType);
  if (media === STRUCTURED) {
    return structured(parseJson(bytes, "message.data"), "message.data.");
  }
  const ce: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attrs)) {
    if (!name.startsWith("ce-") || typeof value !== "string") continue;
    checkAttributeName(name.slice(3), `message.attributes.${name}`, "data travels in message.data, its type in the Content-Type attribute");
    ce[name.slice(3)] = value;
  }
  if (Object.keys(ce).length === 0) {
    throw new RequestError(422, "invalid_event", "The message carries no ce-* attributes: it is not a CloudEvent in the Pub/Sub binding.", "message.attributes");
  }
  checkSpecversion(ce.specversion, "message.attributes.ce-specversion");
  checkId(ce.id, "message.attributes.ce-id");
  if (contentType) ce.datacontenttype = contentType;
  if (bytes.byteLength > 0) ce.data = bodyData(bytes, media, "message.data");
  return event(ce, (f) => f === "data" || f.startsWith("data.") ? "message.data" : `message.attributes.ce-${f}`);
}
