// The receiving half: a webhook or Pub/Sub push handled once per event, in the transaction that records it.
import { CloudEvent } from "cloudevents";
import pg from "pg";
import type { Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError } from "../mod.ts";
import { migrateInbox, PermanentError, receivePubSubPush, receiveWebhook } from "../adapters/receiver.ts";
import { toPubSubMessage } from "../adapters/pubsub/message.ts";
import { toBase64 } from "../src/base64.ts";
import { webhook } from "../adapters/webhook.ts";
import { databaseUrl, schemaName, testOutbox, waitFor } from "./support/db.ts";
import { connect } from "./support/db.ts";
import { post, SECRET, type Served, serveReceiver, signBody, signedRequest } from "./support/receiver.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let sql: Sql;
let schema: string;
const servers: Served[] = [];

beforeAll(async () => {
  sql = connect();
  schema = schemaName("rcv");
  expect(await migrateInbox(sql, { schema })).toEqual([1]);
  expect(await migrateInbox(sql, { schema })).toEqual([]); // idempotent
  await sql.unsafe(`create table "${schema}".effects (source text, id text, subject text, data jsonb, primary key (source, id))`);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end({ timeout: 1 });
});

async function counts(source: string): Promise<{ inbox: number; effects: number }> {
  const [r] = await sql.unsafe(
    `select (select count(*)::int from "${schema}".inbox where source = $1) as inbox, (select count(*)::int from "${schema}".effects where source = $1) as effects`,
    [source],
  );
  return { inbox: r.inbox, effects: r.effects };
}

/** A receiver that writes one effect row per event with the handler's tx; `behave` may throw first. */
async function start(behave: (event: CloudEvent<unknown>) => void = () => {}): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const handle = receiveWebhook({
    secret: ["whsec_" + btoa("a newer secret, being rolled out"), SECRET],
    sql,
    schema,
    logger: quiet,
    handler: async (event, { tx }) => {
      calls.push(event.id);
      await tx.unsafe(`insert into "${schema}".effects values ($1, $2, $3, $4::text::jsonb)`, [event.source, event.id, event.subject ?? null, JSON.stringify(event.data ?? null)]);
      behave(event);
    },
  });
  const served = await serveReceiver(handle);
  servers.push(served);
  return { url: served.url, calls };
}

describe("an outbox webhook to the receiver: one effect per event", () => {
  it("delivers from a real worker, percent-decodes ce-* values, and de-duplicates a resend", async () => {
    const t = await testOutbox();
    try {
      const { url, calls } = await start();
      t.outbox.register("order.*", webhook({ url, secret: SECRET, name: "receiver" }));
      const source = `orders-${schema}`;
      await t.outbox.publishEvent({ type: "order.completed", source, id: "Order #456 €", subject: "Order #456", data: { total: 12 }, extensions: { tenant: "a b%c" } });
      const worker = t.outbox.worker({ sweepIntervalMs: 60_000 });
      await worker.start();
      try {
        await waitFor(async () => (await counts(source)).effects === 1, "the effect row");
      } finally {
        await worker.stop();
      }
      const [row] = await sql.unsafe(`select id, subject, data from "${schema}".effects where source = $1`, [source]);
      expect(row).toEqual({ id: "Order #456 €", subject: "Order #456", data: { total: 12 } });
      const sent = new CloudEvent({ type: "order.completed", source, id: "Order #456 €", subject: "Order #456", data: { total: 12 } });
      const again = await post(url, await signedRequest(sent));
      expect(again).toMatchObject({ status: 200, body: { received: [{ source, id: "Order #456 €", duplicate: true }] } });
      expect(calls).toEqual(["Order #456 €"]);
      expect(await counts(source)).toEqual({ inbox: 1, effects: 1 });
    } finally {
      await t.drop();
    }
  });

  it("a handler that throws rolls back its writes and the inbox row (500); the resend runs it again", async () => {
    let fail = true;
    const { url, calls } = await start(() => {
      if (fail) throw new Error("database of the downstream service is down");
    });
    const source = `flaky-${schema}`;
    const req = await signedRequest(new CloudEvent({ type: "x", source, id: "1", data: {} }));
    const first = await post(url, req);
    expect(first.status).toBe(500);
    expect(first.body.error.code).toBe("handler_failed");
    expect(JSON.stringify(first.body)).not.toContain("downstream"); // details go to the log, not to the sender
    expect(await counts(source)).toEqual({ inbox: 0, effects: 0 });
    fail = false;
    expect((await post(url, req)).status).toBe(200);
    expect(calls).toEqual(["1", "1"]);
    expect(await counts(source)).toEqual({ inbox: 1, effects: 1 });
  });

  it("a PermanentError answers 422 (the sender gives up) and records nothing, so a resend is judged again", async () => {
    const { url, calls } = await start((e) => {
      throw new PermanentError(`no such customer in ${e.id}`);
    });
    const source = `refused-${schema}`;
    const req = await signedRequest(new CloudEvent({ type: "x", source, id: "7", data: {} }));
    const res = await post(url, req);
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({ code: "refused", message: 'The handler refused event "7" from "' + source + '": no such customer in 7' });
    expect((await post(url, req)).status).toBe(422);
    expect(calls).toEqual(["7", "7"]);
    expect(await counts(source)).toEqual({ inbox: 0, effects: 0 });
  });

  it("a DeliveryError with retryAfterMs answers 503 with Retry-After in whole seconds, and records nothing", async () => {
    let busy = true;
    const { url, calls } = await start(() => {
      if (busy) throw new DeliveryError("the warehouse is rate limiting us", { retryAfterMs: 2500 });
    });
    const source = `busy-${schema}`;
    const req = await signedRequest(new CloudEvent({ type: "x", source, id: "9", data: {} }));
    const res = await post(url, req);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(res.body.error).toEqual({ code: "unavailable", message: `The handler asked for event "9" from "${source}" again in 3 s.` });
    expect(await counts(source)).toEqual({ inbox: 0, effects: 0 });
    busy = false;
    expect((await post(url, req)).status).toBe(200);
    expect(calls).toEqual(["9", "9"]);
    expect(await counts(source)).toEqual({ inbox: 1, effects: 1 });
  });

  it("reads ce-* values as the HTTP binding says: percent-decoded, and double-quoted strings unquoted first", async () => {
    const { url } = await start();
    const source = `headers-${schema}`;
    const headers = { "ce-specversion": "1.0", "ce-source": source, "ce-type": "x", "content-type": "application/json" };
    const subject = async (id: string, value: string): Promise<unknown> => {
      const res = await post(url, await signBody(id, new TextEncoder().encode("{}"), { ...headers, "ce-id": id, "ce-subject": value }));
      expect(res.status).toBe(200);
      const [row] = await sql.unsafe(`select subject from "${schema}".effects where source = $1 and id = $2`, [source, id]);
      return row.subject;
    };
    expect(await subject("encoded", "Order%20%23456%20%E2%82%ac")).toBe("Order #456 €"); // lower-case hex too
    expect(await subject("quoted", '"Order #456"')).toBe("Order #456"); // as senders of older spec versions send it
    expect(await subject("escaped", '"say \\"hi\\" %25"')).toBe('say "hi" %');
    expect(await subject("bare-percent", "100%")).toBe("100%"); // a sender that does not encode
  });

  it("reads structured mode and batches; a batch is one transaction", async () => {
    const { url, calls } = await start((e) => {
      if (e.id === "boom") throw new Error("boom");
    });
    const source = `structured-${schema}`;
    const one = new CloudEvent({ type: "x", source, id: "s1", subject: "Order #456", data: { a: 1 } });
    expect((await post(url, await signedRequest(one, { mode: "structured" }))).status).toBe(200);
    const batch = (ids: string[]) => new TextEncoder().encode(JSON.stringify(ids.map((id) => new CloudEvent({ type: "x", source, id, data: { id } }))));
    const ok = await post(url, await signBody("batch-1", batch(["b1", "s1", "b2"]), { "content-type": "application/cloudevents-batch+json" }));
    expect(ok.body.received).toEqual([
      { source, id: "b1", duplicate: false },
      { source, id: "s1", duplicate: true },
      { source, id: "b2", duplicate: false },
    ]);
    const failed = await post(url, await signBody("batch-2", batch(["b3", "boom"]), { "content-type": "application/cloudevents-batch+json" }));
    expect(failed.status).toBe(500);
    expect(calls).toEqual(["s1", "b1", "b2", "b3", "boom"]);
    expect(await counts(source)).toEqual({ inbox: 3, effects: 3 }); // b3 rolled back with boom
    const [row] = await sql.unsafe(`select subject from "${schema}".effects where source = $1 and id = 's1'`, [source]);
    expect(row.subject).toBe("Order #456");
  });

  it("accepts any of several secrets (rotation), with the signature made by the sender's signer", async () => {
    const { url } = await start();
    const source = `rotation-${schema}`;
    const newer = "whsec_" + btoa("a newer secret, being rolled out");
    expect((await post(url, await signedRequest(new CloudEvent({ type: "x", source, id: "n" }), { secret: newer }))).status).toBe(200);
    expect((await post(url, await signedRequest(new CloudEvent({ type: "x", source, id: "o" }), { secret: SECRET }))).status).toBe(200);
    expect(await counts(source)).toEqual({ inbox: 2, effects: 2 });
  });

  it("works as a Hono handler as it is", async () => {
    const { Hono } = await import("hono");
    const source = `hono-${schema}`;
    const app = new Hono();
    app.post("/hooks", receiveWebhook({ secret: SECRET, sql, schema, logger: quiet, handler: async () => {} }));
    const req = await signedRequest(new CloudEvent({ type: "x", source, id: "h" }));
    const res = await app.request("/hooks", { method: "POST", headers: req.headers, body: req.body ?? null });
    expect(res.status).toBe(200);
    expect(await counts(source)).toEqual({ inbox: 1, effects: 0 });
  });

  it("both receivers mount in Hono as middleware too, the Pub/Sub push one included", async () => {
    const { Hono } = await import("hono");
    const source = `hono-use-${schema}`;
    const seen: string[] = [];
    const handler = (event: CloudEvent<unknown>) => void seen.push(event.id);
    const app = new Hono();
    app.use("/hooks/*", receiveWebhook({ secret: SECRET, sql, schema, logger: quiet, handler }));
    app.use("/push/*", receivePubSubPush({ sql, schema, logger: quiet, handler }));
    const req = await signedRequest(new CloudEvent({ type: "x", source, id: "w" }));
    expect((await app.request("/hooks/orders", { method: "POST", headers: req.headers, body: req.body ?? null })).status).toBe(200);
    const m = toPubSubMessage(new CloudEvent({ type: "x", source, id: "p", data: { n: 1 } }));
    const push = JSON.stringify({ message: { data: toBase64(m.data), attributes: m.attributes, messageId: "1" }, subscription: "projects/p/subscriptions/s" });
    const res = await app.request("/push/orders", { method: "POST", headers: { "content-type": "application/json" }, body: push });
    expect(await res.json()).toEqual({ received: [{ source, id: "p", duplicate: false }] });
    expect(seen).toEqual(["w", "p"]);
    expect(await counts(source)).toEqual({ inbox: 2, effects: 0 });
  });
});

describe("node-postgres: the receiver opens its transactions on a Pool", () => {
  it("commits the handler's writes with the inbox row, and rolls both back on a throw", async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    try {
      let fail = true;
      const source = `pg-${schema}`;
      const handle = receiveWebhook({
        secret: SECRET,
        sql: pool,
        schema,
        logger: quiet,
        handler: async (event, { tx }) => {
          await tx.query(`insert into "${schema}".effects (source, id) values ($1, $2)`, [event.source, event.id]);
          if (fail) throw new Error("first try fails");
        },
      });
      expect(await handle.migrate()).toEqual([]);
      const served = await serveReceiver(handle);
      servers.push(served);
      const req = await signedRequest(new CloudEvent({ type: "x", source, id: "p" }));
      expect((await post(served.url, req)).status).toBe(500);
      expect(await counts(source)).toEqual({ inbox: 0, effects: 0 });
      fail = false;
      expect((await post(served.url, req)).status).toBe(200);
      expect((await post(served.url, req)).body.received[0].duplicate).toBe(true);
      expect(await counts(source)).toEqual({ inbox: 1, effects: 1 });
      expect(pool.totalCount - pool.idleCount).toBe(0); // every client went back
    } finally {
      await pool.end();
    }
  });
});

describe("Pub/Sub push: the CloudEvents Pub/Sub binding, de-duplicated by (source, id)", () => {
  it("handles a push once, refuses an unauthenticated one, and reads structured mode", async () => {
    const source = `push-${schema}`;
    const calls: string[] = [];
    const handle = receivePubSubPush({
      sql,
      schema,
      logger: quiet,
      verify: (request) => request.headers.get("authorization") === "Bearer push-token",
      handler: async (event, { tx }) => {
        calls.push(event.id);
        await tx.unsafe(`insert into "${schema}".effects values ($1, $2, $3, $4::text::jsonb)`, [event.source, event.id, event.subject ?? null, JSON.stringify(event.data)]);
      },
    });
    const served = await serveReceiver(handle);
    servers.push(served);
    const message = toPubSubMessage(new CloudEvent({ type: "order.completed", source, id: "m1", subject: "Order #456", data: { n: 1 } }));
    const push = (messageId: string, m = message) => ({
      headers: { "content-type": "application/json", authorization: "Bearer push-token" },
      body: new TextEncoder().encode(JSON.stringify({
        message: { data: toBase64(m.data), attributes: m.attributes, messageId, publishTime: new Date().toISOString() },
        subscription: "projects/p/subscriptions/s",
      })),
    });
    expect((await post(served.url, push("111"))).status).toBe(200);
    // The outbox published it again (a new Pub/Sub messageId): still the same event.
    expect((await post(served.url, push("222"))).body.received[0].duplicate).toBe(true);
    const unauthenticated = await post(served.url, { ...push("333"), headers: { "content-type": "application/json" } });
    expect(unauthenticated.status).toBe(401);
    const structured = { data: new TextEncoder().encode(JSON.stringify(new CloudEvent({ type: "x", source, id: "m2", data: { n: 2 } }))), attributes: { "content-type": "application/cloudevents+json" } };
    expect((await post(served.url, push("444", structured))).status).toBe(200);
    const broken = await post(served.url, push("555", { data: new Uint8Array(0), attributes: { "ce-id": "m3" } }));
    expect(broken.status).toBe(422);
    expect(broken.body.error.field).toBe("message.attributes.ce-specversion");
    // An attribute that is no CloudEvent attribute name is refused by name, not dropped (on a plain object
    // `__proto__` would vanish) and not merged.
    for (const bad of ["ce-__proto__", "ce-Subject", "ce-data"]) {
      const named = await post(served.url, push("666", { data: message.data, attributes: { ...message.attributes, "ce-id": "m4", [bad]: "x" } }));
      expect(named.status).toBe(422);
      expect(named.body.error.field).toBe(`message.attributes.${bad}`);
    }
    expect(calls).toEqual(["m1", "m2"]);
    const rows = await sql.unsafe(`select id, subject, data from "${schema}".effects where source = $1 order by id`, [source]);
    expect(rows).toEqual([{ id: "m1", subject: "Order #456", data: { n: 1 } }, { id: "m2", subject: null, data: { n: 2 } }]);
  });
});

describe("options", () => {
  it("refuses unknown keys, a bad secret, and a client that cannot open transactions", () => {
    const handler = async () => {};
    expect(() => receiveWebhook({ secret: SECRET, sql, handler, tolerance: 1 } as never)).toThrow(/Unknown option "tolerance"/);
    expect(() => receiveWebhook({ secret: "", sql, handler })).toThrow(/secret must be a non-empty string/);
    expect(() => receiveWebhook({ secret: SECRET, sql: {} as never, handler })).toThrow(/postgres\.js sql, Bun SQL, or a node-postgres Pool/);
  });
});
