// The RabbitMQ destination against the machine's RabbitMQ (127.0.0.1:5672, guest/guest): every message is read back
// from a queue by an independent amqplib consumer.
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from "amqplib";
import { CloudEvent } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { amqp } from "../adapters/amqp.ts";
import type { Destination } from "../src/destination.ts";
import { DispatchError } from "../src/errors.ts";
import { waitFor } from "./support/db.ts";
import { closedPort, ctx, rejection, richAttributes, richEvent, running, settled, unique } from "./support/brokers.ts";

const URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const decoder = new TextDecoder();
let conn: ChannelModel;
let admin: Channel;
const cleanup: Array<() => Promise<unknown>> = [];

/** A fresh topic exchange with a queue bound for every routing key, whose messages are collected. */
async function freshExchange(bind = true): Promise<{ exchange: string; received: ConsumeMessage[] }> {
  const exchange = unique("pgd.events.");
  await admin.assertExchange(exchange, "topic", { durable: false, autoDelete: false });
  cleanup.push(() => admin.deleteExchange(exchange));
  const received: ConsumeMessage[] = [];
  if (bind) {
    const { queue } = await admin.assertQueue("", { exclusive: true });
    await admin.bindQueue(queue, exchange, "#");
    await admin.consume(queue, (m) => m && received.push(m), { noAck: true });
  }
  return { exchange, received };
}

function destination(options: Parameters<typeof amqp>[0]): Destination {
  const dest = amqp(options);
  cleanup.push(() => dest.close?.() ?? Promise.resolve());
  return dest;
}

beforeAll(async () => {
  conn = await connect(URL);
  admin = await conn.createChannel();
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await conn?.close();
});

describe("amqp destination: the CloudEvents AMQP binding, binary mode", () => {
  it("sends every attribute as a cloudEvents: property, content-type, message-id and the data", async () => {
    const { exchange, received } = await freshExchange();
    const dest = destination({ url: URL, exchange });
    const event = richEvent();
    const text = new CloudEvent({ type: "note.added", source: "/notes", datacontenttype: "text/plain", data: "plain ✓" });
    for (const e of [event, text]) await dest.deliver(e, ctx());
    await waitFor(() => received.length === 2, "2 messages");

    const [a, b] = received;
    const expected = Object.fromEntries(Object.entries(richAttributes(event)).map(([k, v]) => [`cloudEvents:${k}`, v]));
    expect(a.properties.headers).toEqual(expected);
    expect(a.properties.messageId).toBe(event.id);
    expect(a.properties.contentType).toBe("application/json");
    expect(a.properties.deliveryMode).toBe(2);
    expect(a.fields.routingKey).toBe("order.created");
    expect(JSON.parse(decoder.decode(a.content))).toEqual({ orderId: 456, total: 12.5, note: "é ✓" });
    expect(b.properties.contentType).toBe("text/plain");
    expect(decoder.decode(b.content)).toBe("plain ✓");
  });

  it("uses the routingKey option and the cloudEvents_ prefix; the ordering key is cloudEvents_partitionkey, in order", async () => {
    const { exchange, received } = await freshExchange();
    const dest = destination({ url: URL, exchange, routingKey: "orders.eu", propertyPrefix: "cloudEvents_" });
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const e = new CloudEvent({ type: "account.changed", source: "/accounts", data: { i } });
      sent.push(e.id);
      await dest.deliver(e, ctx("account-7"));
    }
    await waitFor(() => received.length === 10, "10 messages");
    expect(received.map((m) => m.properties.headers?.["cloudEvents_id"])).toEqual(sent);
    expect(new Set(received.map((m) => m.properties.headers?.["cloudEvents_partitionkey"]))).toEqual(new Set(["account-7"]));
    expect(new Set(received.map((m) => m.fields.routingKey))).toEqual(new Set(["orders.eu"]));
  });
});

describe("amqp destination: outcomes", () => {
  it("an unroutable message (no queue bound) is not delivered: the attempt fails and is retried", async () => {
    const { exchange } = await freshExchange(false);
    const err = await rejection(destination({ url: URL, exchange }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(
      `RabbitMQ could not route the message: no queue is bound to exchange "${exchange}" for routing key ` +
        `"order.created"; bind one (or give the exchange an alternate exchange)`,
    );
  });

  it("a missing exchange fails for good, naming it and the fix", async () => {
    const exchange = unique("pgd.none.");
    const err = await rejection(destination({ url: URL, exchange }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(`RabbitMQ exchange "${exchange}" does not exist: declare it`);
  });

  it("an exchange deleted after the first delivery fails later deliveries for good", async () => {
    const { exchange } = await freshExchange();
    const dest = destination({ url: URL, exchange });
    await dest.deliver(richEvent(), ctx());
    await admin.deleteExchange(exchange);
    const err = await rejection(dest.deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(`RabbitMQ exchange "${exchange}" does not exist`);
  });

  it("a server that is down is retried, not failed for good; the password is not shown", async () => {
    const port = await closedPort();
    const dest = destination({ url: `amqp://guest:secret@127.0.0.1:${port}`, exchange: "events" });
    const err = await rejection(dest.deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`Could not connect to RabbitMQ at amqp://127.0.0.1:${port}`);
    expect(err.message).not.toContain("secret");
  });

  it("refuses bad options at once, naming the field", () => {
    expect(() => amqp({ url: "http://x", exchange: "e" })).toThrow(/url must be an amqp:\/\//);
    expect(() => amqp({ url: URL } as never)).toThrow(/needs an exchange/);
    expect(() => amqp({ url: URL, exchange: "e", propertyPrefix: "ce-" as never })).toThrow(/propertyPrefix/);
    expect(() => amqp({ url: URL, exchange: "e", queue: "q" } as never)).toThrow(DispatchError);
  });
});

describe("amqp destination: end to end through the outbox", () => {
  it("a published event is delivered once RabbitMQ confirms it; outbox.close() closes the connection", async () => {
    const { exchange, received } = await freshExchange();
    const dest = amqp({ url: URL, exchange });
    const run = await running(dest);
    try {
      const record = await run.db.outbox.publishEvent({
        type: "order.created",
        source: "orders",
        data: { orderId: 1 },
        extensions: { tenant: "acme" },
        orderingKey: "order-1",
      });
      const stored = await settled(run.db, record.id, "published");
      expect(stored.deliveries).toEqual([expect.objectContaining({ name: `amqp:${exchange}`, status: "delivered", attempts: 1 })]);
      await waitFor(() => received.length === 1, "the message");
      expect(received[0].properties.messageId).toBe(record.id);
      expect(received[0].properties.headers).toMatchObject({ "cloudEvents:id": record.id, "cloudEvents:tenant": "acme", "cloudEvents:partitionkey": "order-1" });
      expect(JSON.parse(decoder.decode(received[0].content))).toEqual({ orderId: 1 });
    } finally {
      await run.stop();
    }
    await expect(dest.deliver(richEvent(), ctx())).rejects.toThrow(/closed/);
  });
});
