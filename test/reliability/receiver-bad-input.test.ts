// Hostile requests at the receiver's door: unsigned, mis-signed, stale, replayed with a fresh timestamp, oversize
// (streamed without a length), malformed CloudEvents. Each gets a 4xx with a reason, and nothing is recorded: no
// inbox row, no handler call.
import { CloudEvent } from "cloudevents";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateInbox, receivePubSubPush, receiveWebhook } from "../../adapters/receiver.ts";
import { binaryMessage } from "../../adapters/webhook/binding.ts";
import { connect, schemaName } from "../support/db.ts";
import { post, SECRET, type Served, serveReceiver, type Signed, signBody, signedRequest } from "../support/receiver.ts";
import { summary } from "./support/check.ts";

const MAX_BODY = 64 * 1024;
let sql: Sql;
let schema: string;
let served: Served;
let pushServed: Served;
let url: string;
const calls: string[] = [];
const encoder = new TextEncoder();

beforeAll(async () => {
  sql = connect();
  schema = schemaName("rbad");
  await migrateInbox(sql, { schema });
  served = await serveReceiver(receiveWebhook({
    secret: SECRET,
    sql,
    schema,
    maxBodyBytes: MAX_BODY,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    handler: (event) => void calls.push(event.id),
  }));
  url = served.url;
  pushServed = await serveReceiver(receivePubSubPush({
    sql,
    schema,
    maxBodyBytes: MAX_BODY,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    handler: (event) => void calls.push(event.id),
  }));
});

afterAll(async () => {
  await served?.close();
  await pushServed?.close();
  await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end({ timeout: 1 });
});

const event = (over: Record<string, unknown> = {}) => new CloudEvent({ type: "order.created", source: "shop", id: "e1", data: { n: 1 }, ...over });
const now = () => Math.floor(Date.now() / 1000);

/** A signed binary-mode request whose headers are then edited (edits are not re-signed). */
async function edited(edit: (h: Record<string, string>) => void, body?: Uint8Array<ArrayBuffer>): Promise<Signed> {
  const req = await signedRequest(event());
  const headers = { ...req.headers };
  edit(headers);
  return { headers, body: body ?? req.body };
}

/** A binary-mode request made from raw headers and body, validly signed: the CloudEvent itself is what is wrong. */
async function signedRaw(headers: Record<string, string>, body: string): Promise<Signed> {
  return await signBody(headers["ce-id"] ?? "e1", encoder.encode(body), headers);
}

const base = { "ce-specversion": "1.0", "ce-id": "e1", "ce-source": "shop", "ce-type": "order.created", "content-type": "application/json" };

describe("bad requests are refused with a reason and record nothing", () => {
  const cases: [string, () => Promise<Signed>, number, string][] = [
    ["no signature headers", async () => ({ headers: binaryMessage(event()).headers, body: binaryMessage(event()).body }), 401, "missing_signature"],
    ["no webhook-timestamp", () => edited((h) => delete h["webhook-timestamp"]), 401, "missing_signature"],
    ["a signature made with another secret", () => signedRequest(event(), { secret: "whsec_" + btoa("not the receiver's secret") }), 401, "invalid_signature"],
    ["a body changed after signing", () => edited(() => {}, encoder.encode('{"n":2}')), 401, "invalid_signature"],
    ["a signature without v1", () => edited((h) => (h["webhook-signature"] = "v2,abc")), 401, "invalid_signature"],
    ["a stale timestamp (10 minutes old, validly signed)", () => signedRequest(event(), { timestamp: now() - 600 }), 401, "stale_timestamp"],
    ["a timestamp 10 minutes ahead", () => signedRequest(event(), { timestamp: now() + 600 }), 401, "stale_timestamp"],
    ["a captured request replayed with a new timestamp", async () => {
      const captured = await signedRequest(event(), { timestamp: now() - 600 });
      return { headers: { ...captured.headers, "webhook-timestamp": String(now()) }, body: captured.body };
    }, 401, "invalid_signature"],
    ["a timestamp that is not a number", () => edited((h) => (h["webhook-timestamp"] = "yesterday")), 401, "invalid_timestamp"],
    ["a captured request replayed as another event (ce-id edited)", () => edited((h) => (h["ce-id"] = "e2")), 422, "invalid_event"],
    ["no ce-specversion", () => signedRaw({ ...base, "ce-specversion": undefined! }, "{}").then(dropUndefined), 422, "invalid_event"],
    ["specversion 0.3", () => signedRaw({ ...base, "ce-specversion": "0.3" }, "{}"), 422, "invalid_event"],
    ["no ce-id", () => signedRaw({ ...base, "ce-id": undefined! }, "{}").then(dropUndefined), 422, "invalid_event"],
    ["an empty ce-type", () => signedRaw({ ...base, "ce-type": "" }, "{}"), 422, "invalid_event"],
    ["a NUL in the id (percent-encoded)", () => signedRaw({ ...base, "ce-id": "e%001" }, "{}"), 422, "invalid_event"],
    ["an id over 1024 bytes", () => signedRaw({ ...base, "ce-id": "x".repeat(1025) }, "{}"), 422, "invalid_event"],
    ["a percent-encoded run that is not UTF-8 (overlong %C0%A0)", () => signedRaw({ ...base, "ce-subject": "a%C0%A0b" }, "{}"), 422, "invalid_event"],
    ["a percent-encoded run cut short (%E2%82)", () => signedRaw({ ...base, "ce-subject": "%E2%82" }, "{}"), 422, "invalid_event"],
    ["an attribute header that is not a name", () => signedRaw({ ...base, "ce-my_ext": "1" }, "{}"), 422, "invalid_event"],
    ["a ce-data header", () => signedRaw({ ...base, "ce-data": "{}" }, "{}"), 422, "invalid_event"],
    ["a JSON body that is not JSON", () => signedRaw(base, "{not json"), 400, "invalid_json"],
    ["no ce-* headers at all", () => signedRaw({ "content-type": "application/json" }, "{}"), 415, "unsupported_media_type"],
    ["a CloudEvents type the binding does not define", () => signedRaw({ "content-type": "application/cloudevents+xml" }, "<e/>"), 415, "unsupported_media_type"],
    ["structured mode, not an object", () => signedRaw({ "content-type": "application/cloudevents+json" }, "[1]"), 400, "invalid_request"],
    ["structured mode, bad data_base64", () => signedRaw({ "content-type": "application/cloudevents+json" }, JSON.stringify({ specversion: "1.0", id: "e1", source: "s", type: "t", data_base64: "%%%" })), 422, "invalid_event"],
    ["a batch that is not an array", () => signedRaw({ "content-type": "application/cloudevents-batch+json" }, "{}"), 400, "invalid_request"],
    ["a batch with one bad event", () => signedRaw({ "content-type": "application/cloudevents-batch+json" }, JSON.stringify([event(), { specversion: "1.0", id: "e9", source: "s" }])), 422, "invalid_event"],
    ["a body over maxBodyBytes with its length declared", () => signedRaw(base, JSON.stringify({ pad: "x".repeat(MAX_BODY) })), 413, "payload_too_large"],
  ];

  it.each(cases)("%s", async (_, make, status, code) => {
    const res = await post(url, await make());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(20);
    await expectNothingRecorded();
  });

  it("a streamed body without Content-Length is cut off at maxBodyBytes, not read to its end", async () => {
    const total = 64 * MAX_BODY; // 4 MiB offered
    let offered = 0;
    const chunk = encoder.encode("x".repeat(16 * 1024));
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offered >= total) return controller.close();
        offered += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const signed = await signBody("e1", encoder.encode("ignored"), base);
    const res = await fetch(url, { method: "POST", headers: signed.headers, body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).error.message).toMatch(/over the receiver's 65536-byte limit/);
    await expectNothingRecorded();
    summary("receiver-bad-input", { kinds: cases.length + 1, refused: cases.length + 1, inboxRows: 0, handlerCalls: calls.length, streamedBytesOffered: total });
  });
});

describe("bad Pub/Sub pushes are refused with a reason and record nothing", () => {
  const attributes = { "ce-specversion": "1.0", "ce-id": "p1", "ce-source": "shop", "ce-type": "order.created", "Content-Type": "application/json" };
  const data = btoa('{"n":1}');
  const envelope = (message: unknown) => JSON.stringify({ message, subscription: "projects/p/subscriptions/s" });
  const cases: [string, string, number, string, string | undefined][] = [
    ["a body that is not JSON", "{not json", 400, "invalid_json", "body"],
    ["no message", JSON.stringify({ subscription: "s" }), 400, "invalid_request", "message"],
    ["a message that is an array", envelope([]), 400, "invalid_request", "message"],
    ["attributes that are not an object", envelope({ data, attributes: "ce-id=p1" }), 400, "invalid_request", "message.attributes"],
    ["data that is not a string", envelope({ data: 1, attributes }), 400, "invalid_request", "message.data"],
    ["data that is not base64", envelope({ data: "%%%", attributes }), 400, "invalid_request", "message.data"],
    ["no ce-* attributes (not a CloudEvent)", envelope({ data, attributes: { "Content-Type": "application/json" } }), 422, "invalid_event", "message.attributes"],
    ["no ce-id", envelope({ data, attributes: { ...attributes, "ce-id": undefined } }), 422, "invalid_event", "message.attributes.ce-id"],
    ["specversion 0.3", envelope({ data, attributes: { ...attributes, "ce-specversion": "0.3" } }), 422, "invalid_event", "message.attributes.ce-specversion"],
    ["an invalid ce-time", envelope({ data, attributes: { ...attributes, "ce-time": "yesterday" } }), 422, "invalid_event", "message.attributes.ce-time"],
    ["a NUL in the id", envelope({ data, attributes: { ...attributes, "ce-id": "p\u00001" } }), 422, "invalid_event", "message.attributes.ce-id"],
    ["an attribute that is not a name", envelope({ data, attributes: { ...attributes, "ce-my_ext": "1" } }), 422, "invalid_event", "message.attributes.ce-my_ext"],
    ["a ce-data attribute", envelope({ attributes: { ...attributes, "ce-data": '{"n":2}' } }), 422, "invalid_event", "message.attributes.ce-data"],
    ["JSON data that is not JSON", envelope({ data: btoa("{nope"), attributes }), 400, "invalid_json", "message.data"],
    ["structured mode, not an object", envelope({ data: btoa("[1]"), attributes: { "content-type": "application/cloudevents+json" } }), 400, "invalid_request", "message.data"],
    ["text data that is not UTF-8", envelope({ data: "/w==", attributes: { ...attributes, "Content-Type": "text/plain" } }), 400, "invalid_request", "message.data"],
    ["a body over maxBodyBytes", envelope({ data: btoa("x".repeat(MAX_BODY)), attributes }), 413, "payload_too_large", undefined],
  ];

  it.each(cases)("%s", async (_, body, status, code, field) => {
    const res = await post(pushServed.url, { headers: { "content-type": "application/json" }, body: encoder.encode(body) });
    expect({ status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ status, code, field });
    expect(res.body.error.message.length).toBeGreaterThan(20);
    await expectNothingRecorded();
  });
});

function dropUndefined(s: Signed): Signed {
  return { ...s, headers: Object.fromEntries(Object.entries(s.headers).filter(([, v]) => v !== undefined)) };
}

async function expectNothingRecorded(): Promise<void> {
  const [{ n }] = await sql.unsafe(`select count(*)::int as n from "${schema}".inbox`);
  expect(n).toBe(0);
  expect(calls).toEqual([]);
}
