// The broker restart audit for RabbitMQ: a RabbitMQ node of the test's own (its own node name, AMQP and distribution
// ports, and its database, logs and configuration in a temporary directory) is SIGKILLed while the worker delivers a
// burst and started again on the same ports and database. The exchange and the queue are durable and the messages
// persistent, so RabbitMQ confirms a message only once it is written to disk: nothing confirmed is lost. RabbitMQ
// does not de-duplicate: a message whose confirm the kill cut off is published again, so the queue may hold it twice
// (the same message-id); those duplicates are counted. A node starts in about 5 s.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { amqp } from "../../adapters/amqp.ts";
import { closedPort, running, unique } from "../support/brokers.ts";
import { waitFor } from "../support/db.ts";
import { BURST_EVENTS, BURST_RETRY, BURST_WORKER, burst, expectNothingLost, tally } from "./support/broker-burst.ts";
import { brokerServer, installed, succeeds } from "./support/broker-server.ts";

const distPort = await closedPort();
const node = `${unique("pgd-audit-")}@localhost`;

// The Debian wrapper /usr/sbin/rabbitmq-server switches to the rabbitmq user, which cannot write the test's directory;
// the script it runs starts a node as the current user.
const COMMAND = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const server = await brokerServer({
  name: "rabbitmq",
  command: COMMAND,
  args: () => [],
  env(port, dir) {
    writeFileSync(join(dir, "rabbitmq.conf"), `listeners.tcp.default = 127.0.0.1:${port}\n`);
    writeFileSync(join(dir, "enabled_plugins"), "[].\n");
    return {
      HOME: dir, // the Erlang cookie
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
      RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(dir, "log"),
    };
  },
  ready: (port) => succeeds(async () => await (await connect(`amqp://guest:guest@127.0.0.1:${port}`, { timeout: 2_000 })).close()),
  startTimeoutMs: 60_000,
});

afterAll(() => server.remove());

describe.skipIf(!installed(COMMAND, "rabbitmq-server"))("a RabbitMQ node killed and restarted during a burst loses nothing", () => {
  it(`${BURST_EVENTS} events: all published, all in the queue`, async () => {
    await server.start();
    const url = `amqp://guest:guest@127.0.0.1:${server.port}`;
    // Declared again after the restart, as a consumer does when it reconnects: a node killed moments after the
    // declaration may not have its durable binding on disk yet (deliveries meanwhile are unroutable and retried).
    const topology = async (): Promise<void> => {
      const admin = await connect(url);
      const setup = await admin.createChannel();
      await setup.assertExchange("audit", "topic", { durable: true });
      await setup.assertQueue("audit", { durable: true });
      await setup.bindQueue("audit", "audit", "#");
      await admin.close();
    };
    await topology();

    const run = await running(amqp({ url, exchange: "audit" }), BURST_WORKER, BURST_RETRY);
    try {
      const b = await burst(run, () => server.stop("SIGKILL"), async () => {
        const startedMs = await server.start();
        await topology();
        return startedMs;
      });
      const reader = await connect(url);
      const channel = await reader.createChannel();
      const { messageCount } = await channel.checkQueue("audit");
      const readIds: string[] = [];
      await channel.consume("audit", (m) => m && readIds.push(String(m.properties.messageId)), { noAck: true });
      await waitFor(() => readIds.length >= messageCount, `${messageCount} messages from the queue`);
      await reader.close();
      const read = tally(b.ids, readIds);
      expectNothingLost("broker-restart/amqp", b, read);
      // amqplib never publishes a message twice: each duplicate is a re-sent attempt.
      expect(read.duplicates).toBeLessThanOrEqual(b.extraAttempts);
    } finally {
      await run.stop();
    }
  }, 150_000);
});
