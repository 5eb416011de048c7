// Dispatch throughput to each broker destination, beside the webhook: N events (default 20,000) pre-loaded, one
// destination, the worker started, timed until the database shows every event finished. The brokers are the
// machine's (NATS JetStream 4222, RabbitMQ 5672, Redis 6379, Mosquitto 1883); each destination is confirmed by its
// broker (PubAck, publisher confirm, XADD reply, PUBACK). Run: npm run bench:brokers -- [events]
import { jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { connect as amqpConnect } from "amqplib";
import postgres from "postgres";
import { createClient } from "redis";
import { amqp } from "../adapters/amqp.ts";
import { mqtt } from "../adapters/mqtt.ts";
import { nats } from "../adapters/nats.ts";
import { redisStream } from "../adapters/redis.ts";
import { webhook } from "../adapters/webhook.ts";
import { type Destination, Outbox } from "../mod.ts";
import { benchDatabase } from "./db.ts";
import { startSink } from "./figures/dispatch.ts";
import { DISPATCH_WORKER } from "./peers/dispatch.ts";
import { payload, quiet, until } from "./support.ts";

const count = Number(process.argv[2] ?? 20_000);
const tag = `bench${Date.now().toString(36)}`;
const db = await benchDatabase("pg_dispatch_bench_brokers");
const sql = postgres(db.url, { max: 10, onnotice: () => {} });
const sink = await startSink();

// What each broker needs before it accepts: a JetStream stream on the subject, a RabbitMQ exchange with a queue bound.
const nc = await natsConnect({ servers: "nats://127.0.0.1:4222" });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: tag, subjects: [`${tag}.>`] });
const rabbit = await amqpConnect("amqp://guest:guest@127.0.0.1:5672");
const channel = await rabbit.createChannel();
await channel.assertExchange(tag, "topic", { durable: false, autoDelete: false });
const { queue } = await channel.assertQueue(tag, { durable: false, autoDelete: false });
await channel.bindQueue(queue, tag, "#");

const destinations: Record<string, () => Destination> = {
  webhook: () => webhook({ url: sink.url, name: "sink" }),
  nats: () => nats({ servers: "nats://127.0.0.1:4222", subject: `${tag}.events` }),
  redis: () => redisStream({ url: "redis://127.0.0.1:6379", stream: tag }),
  amqp: () => amqp({ url: "amqp://guest:guest@127.0.0.1:5672", exchange: tag }),
  mqtt: () => mqtt({ url: "mqtt://127.0.0.1:1883", topic: `${tag}/events` }),
};
const rates: Record<string, number> = {};
// fetch keeps one connection pool per process: open its keep-alive connections before the webhook is timed.
await Promise.all(Array.from({ length: 500 }, async () => (await fetch(sink.url, { method: "POST", body: "{}" })).arrayBuffer()));
try {
  for (const [name, make] of Object.entries(destinations)) {
    const schema = `bench_broker_${name}`;
    await sql.unsafe(`drop schema if exists ${schema} cascade`);
    const outbox = new Outbox({ sql, schema, logger: quiet });
    await outbox.migrate();
    for (let i = 0; i < count; i += 1000) {
      await outbox.publishEvents(Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({ type: "user.created", source: "bench", data: payload(i + k) })), { notify: false });
    }
    outbox.register("*", make());
    const worker = outbox.worker(DISPATCH_WORKER);
    const started = performance.now();
    await worker.start();
    await until(async () => (await sql.unsafe(`select count(*)::int as n from ${schema}.events where next_attempt_at is not null`))[0].n === 0, `${name} to finish`, 600_000, 20);
    rates[name] = count / ((performance.now() - started) / 1000);
    const [{ failed }] = await sql.unsafe(`select count(*)::int as failed from ${schema}.events where status <> 'published'`);
    await worker.stop();
    await outbox.close();
    await sql.unsafe(`drop schema ${schema} cascade`);
    process.stderr.write(`  ${name.padEnd(8)} ${rates[name].toFixed(0)} events/s${failed ? ` (${failed} not published!)` : ""}\n`);
  }
} finally {
  await jsm.streams.delete(tag).catch(() => {});
  await nc.close();
  await channel.deleteQueue(queue).catch(() => {});
  await channel.deleteExchange(tag).catch(() => {});
  await rabbit.close();
  const redis = createClient({ url: "redis://127.0.0.1:6379" });
  await redis.connect();
  await redis.del(tag);
  await redis.quit();
  await sink.close();
  await sql.end({ timeout: 2 });
  await db.close();
}
console.log(`dispatch ${count.toLocaleString("en")} pre-loaded events to one destination (worker: concurrency ${DISPATCH_WORKER.concurrency}, batchSize ${DISPATCH_WORKER.batchSize})`);
console.log("| destination | events/s | vs webhook |\n| --- | --: | --: |");
for (const [name, rate] of Object.entries(rates)) console.log(`| ${name} | ${rate.toFixed(0)} | ${(rate / rates.webhook).toFixed(2)}x |`);
