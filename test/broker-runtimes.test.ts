// The broker destinations on every runtime: test/fixtures/broker-delivery.ts delivers one event to each of the
// machine's brokers (NATS JetStream, Redis, RabbitMQ, Mosquitto) through a real worker under Node, Deno and Bun, and
// this file reads every message back with the broker's own client and checks its id and data.
import { type Channel, type ChannelModel, type ConsumeMessage, connect as amqpConnect } from "amqplib";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectAsync, type IPublishPacket, type MqttClient } from "mqtt";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { unique } from "./support/brokers.ts";
import { waitFor } from "./support/db.ts";
import { RUNTIME_NAMES, RUNTIMES, runCommand } from "./support/runtimes.ts";

const NATS = process.env.NATS_URL ?? "127.0.0.1:4222";
const REDIS = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const AMQP = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const MQTT = process.env.MQTT_URL ?? "mqtt://127.0.0.1:1883";
const decoder = new TextDecoder();

const name = unique("PGDRT");
const stream = name;
const subject = `${name}.events`;
const redisKey = `pgd:runtimes:${name}`;
const exchange = `pgd.runtimes.${name}`;
const topic = `pgd/runtimes/${name}`;

let nc: NatsConnection;
let jsm: JetStreamManager;
const redis = createClient({ url: REDIS });
let amqpConn: ChannelModel;
let channel: Channel;
let subscriber: MqttClient;
const amqpReceived: ConsumeMessage[] = [];
const mqttReceived: IPublishPacket[] = [];

beforeAll(async () => {
  nc = await natsConnect({ servers: NATS });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${name}.>`] });
  redis.on("error", () => undefined);
  await redis.connect();
  amqpConn = await amqpConnect(AMQP);
  channel = await amqpConn.createChannel();
  await channel.assertExchange(exchange, "topic", { durable: false });
  const { queue } = await channel.assertQueue("", { exclusive: true });
  await channel.bindQueue(queue, exchange, "#");
  await channel.consume(queue, (m) => m && amqpReceived.push(m), { noAck: true });
  subscriber = await connectAsync(MQTT, { protocolVersion: 5 });
  subscriber.on("message", (t, _payload, packet) => t === topic && mqttReceived.push(packet));
  await subscriber.subscribeAsync(topic, { qos: 1 });
});

afterAll(async () => {
  await jsm?.streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await redis.del(redisKey).catch(() => undefined);
  await redis.close().catch(() => undefined);
  await channel?.deleteExchange(exchange).catch(() => undefined);
  await amqpConn?.close();
  await subscriber?.endAsync();
});

interface Report {
  runtime: string;
  events: Record<"nats" | "redis" | "amqp" | "mqtt", { id: string; status: string; lastError: string | null }>;
}

/** The `runtime` field of the data the message with ce id `id` carries, as each broker's own client reads it. */
const readBack = {
  async nats(id: string): Promise<unknown> {
    const consumer = await jetstream(nc).consumers.get(stream);
    const info = await jsm.streams.info(stream);
    const messages = await consumer.fetch({ max_messages: info.state.messages, expires: 5_000 });
    for await (const m of messages) {
      if (m.headers?.get("ce-id") === id) return JSON.parse(decoder.decode(m.data)).runtime;
      if (m.seq === info.state.last_seq) break;
    }
    return undefined;
  },
  async redis(id: string): Promise<unknown> {
    const entries = (await redis.xRange(redisKey, "-", "+")) ?? [];
    const entry = entries.find((e) => e?.message.ce_id === id);
    return entry ? JSON.parse(String(entry.message.data)).runtime : undefined;
  },
  async amqp(id: string): Promise<unknown> {
    const m = await waitFor(() => amqpReceived.find((m) => m.properties.messageId === id), `RabbitMQ message ${id}`);
    return JSON.parse(decoder.decode(m.content)).runtime;
  },
  async mqtt(id: string): Promise<unknown> {
    const m = await waitFor(() => mqttReceived.find((m) => m.properties?.userProperties?.id === id), `MQTT message ${id}`);
    return JSON.parse(decoder.decode(m.payload as Uint8Array)).runtime;
  },
};

describe("each broker destination delivers on every runtime", () => {
  test.each(RUNTIME_NAMES)("%s", async (runtime) => {
    const { command, args } = RUNTIMES[runtime]("test/fixtures/broker-delivery.ts");
    const targets = {
      nats: { servers: NATS, subject },
      redis: { url: REDIS, stream: redisKey },
      amqp: { url: AMQP, exchange },
      mqtt: { url: MQTT, topic },
    };
    const outcome = await runCommand(command, args, {
      env: { ...process.env, NO_COLOR: "1", PGD_BROKER_TARGETS: JSON.stringify(targets) },
      timeoutMs: 45_000,
    });
    const last = outcome.output.trim().split("\n").findLast((line) => line.startsWith("{"));
    expect(last, `no report from ${runtime}:\n${outcome.output}`).toBeDefined();
    const report = JSON.parse(last!) as Report;
    expect(report.runtime).toBe(runtime);
    for (const [broker, event] of Object.entries(report.events)) {
      expect({ broker, status: event.status, lastError: event.lastError }).toEqual({ broker, status: "published", lastError: null });
      expect(await readBack[broker as keyof typeof readBack](event.id), `${broker} message ${event.id}`).toBe(runtime);
    }
    // The process ends by itself once the outbox is closed: no client leaves a socket or timer behind.
    expect({ code: outcome.code, signal: outcome.signal }, outcome.output).toEqual({ code: 0, signal: null });
  }, 60_000);
});
