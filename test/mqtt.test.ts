// The MQTT destination against the machine's Mosquitto (127.0.0.1:1883): every message is read back by an
// independent MQTT.js subscriber.
import { CloudEvent } from "cloudevents";
import { connectAsync, type IPublishPacket, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mqtt } from "../adapters/mqtt.ts";
import type { Destination } from "../src/destination.ts";
import { DispatchError } from "../src/errors.ts";
import { waitFor } from "./support/db.ts";
import { closedPort, ctx, rejection, richAttributes, richEvent, running, settled, unique } from "./support/brokers.ts";

const URL = process.env.MQTT_URL ?? "mqtt://127.0.0.1:1883";
const decoder = new TextDecoder();
let subscriber: MqttClient;
const cleanup: Array<() => Promise<unknown>> = [];

/** A fresh topic that the subscriber collects (QoS 1). */
async function freshTopic(): Promise<{ topic: string; received: IPublishPacket[] }> {
  const topic = unique("pgd/events/");
  const received: IPublishPacket[] = [];
  subscriber.on("message", (t, _payload, packet) => t === topic && received.push(packet));
  await subscriber.subscribeAsync(topic, { qos: 1 });
  return { topic, received };
}

function destination(options: Parameters<typeof mqtt>[0]): Destination {
  const dest = mqtt(options);
  cleanup.push(() => dest.close?.() ?? Promise.resolve());
  return dest;
}

beforeAll(async () => {
  subscriber = await connectAsync(URL, { protocolVersion: 5 });
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await subscriber?.endAsync();
});

describe("mqtt destination: the CloudEvents MQTT binding", () => {
  it("MQTT 5: every attribute as a User Property, the Content Type property and the data", async () => {
    const { topic, received } = await freshTopic();
    const dest = destination({ url: URL, topic });
    const event = richEvent();
    const text = new CloudEvent({ type: "note.added", source: "/notes", datacontenttype: "text/plain", data: "plain ✓" });
    for (const e of [event, text]) await dest.deliver(e, ctx());
    await waitFor(() => received.length === 2, "2 messages");

    const [a, b] = received;
    expect(a.properties?.userProperties).toEqual(richAttributes(event));
    expect(a.properties?.contentType).toBe("application/json");
    expect(a.qos).toBe(1);
    expect(JSON.parse(decoder.decode(a.payload as Uint8Array))).toEqual({ orderId: 456, total: 12.5, note: "é ✓" });
    expect(b.properties?.contentType).toBe("text/plain");
    expect(decoder.decode(b.payload as Uint8Array)).toBe("plain ✓");
  });

  it("MQTT 3.1.1: structured mode, the whole event as JSON; the ordering key as partitionkey, in order", async () => {
    const { topic, received } = await freshTopic();
    const dest = destination({ url: URL, topic, protocolVersion: 4 });
    const sent: CloudEvent<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      const e = new CloudEvent<unknown>({ type: "account.changed", source: "/accounts", data: { i } });
      sent.push(e);
      await dest.deliver(e, ctx("account-7"));
    }
    await waitFor(() => received.length === 10, "10 messages");
    const events = received.map((m) => JSON.parse(decoder.decode(m.payload as Uint8Array)));
    expect(events.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(events[0]).toMatchObject({ specversion: "1.0", type: "account.changed", source: "/accounts", data: { i: 0 }, partitionkey: "account-7" });
  });
});

describe("mqtt destination: outcomes", () => {
  it("a broker that is down is retried, not failed for good", async () => {
    const port = await closedPort();
    const err = await rejection(destination({ url: `mqtt://127.0.0.1:${port}`, topic: "events" }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`Could not connect to the MQTT broker at mqtt://127.0.0.1:${port}`);
  });

  it("refuses bad options at once, naming the field", () => {
    expect(() => mqtt({ url: "http://x", topic: "t" })).toThrow(/url must be an mqtt:\/\//);
    expect(() => mqtt({ url: URL, topic: "events/#" })).toThrow(/without wildcards/);
    expect(() => mqtt({ url: URL, topic: "t", qos: 0 as never })).toThrow(/QoS 0 is never acknowledged/);
    expect(() => mqtt({ url: URL, topic: "t", retain: true } as never)).toThrow(DispatchError);
  });
});

describe("mqtt destination: end to end through the outbox", () => {
  it("a published event is delivered once the PUBACK arrives; outbox.close() closes the connection", async () => {
    const { topic, received } = await freshTopic();
    const dest = mqtt({ url: URL, topic });
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
      expect(stored.deliveries).toEqual([expect.objectContaining({ name: `mqtt:${topic}`, status: "delivered", attempts: 1 })]);
      await waitFor(() => received.length === 1, "the message");
      expect(received[0].properties?.userProperties).toMatchObject({ id: record.id, tenant: "acme", partitionkey: "order-1" });
      expect(JSON.parse(decoder.decode(received[0].payload as Uint8Array))).toEqual({ orderId: 1 });
    } finally {
      await run.stop();
    }
    await expect(dest.deliver(richEvent(), ctx())).rejects.toThrow(/closed/);
  });
});
