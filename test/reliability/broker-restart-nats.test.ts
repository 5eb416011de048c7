// The broker restart audit for NATS: a nats-server of the test's own (JetStream, file store in a temporary directory,
// a free port) is SIGKILLed while the worker delivers a burst and started again on the same port and store. JetStream
// stores a message before its PubAck, so nothing acknowledged is lost; a message whose PubAck the kill cut off is sent
// again, and the stream drops it by its Nats-Msg-Id (the event id): every event is in the stream exactly once.
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { nats } from "../../adapters/nats.ts";
import { running } from "../support/brokers.ts";
import { BURST_EVENTS, BURST_RETRY, BURST_WORKER, burst, expectNothingLost, tally } from "./support/broker-burst.ts";
import { brokerServer, installed, succeeds } from "./support/broker-server.ts";

const COMMAND = "/usr/sbin/nats-server";
const server = await brokerServer({
  name: "nats",
  command: COMMAND,
  args: (port, dir) => ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
  ready: (port) => succeeds(async () => await (await connect({ servers: `127.0.0.1:${port}`, reconnect: false })).close()),
});

afterAll(() => server.remove());

describe.skipIf(!installed(COMMAND, "nats-server"))("a NATS server killed and restarted during a burst loses nothing", () => {
  it(`${BURST_EVENTS} events: all published, each in the stream once`, async () => {
    await server.start();
    const admin = await connect({ servers: `127.0.0.1:${server.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: "AUDIT", subjects: ["audit.>"], duplicate_window: 10 * 60 * 1e9 });

    const run = await running(
      nats({ servers: `127.0.0.1:${server.port}`, subject: "audit.events", ackTimeoutMs: 2_000 }),
      BURST_WORKER,
      BURST_RETRY,
    );
    try {
      const b = await burst(run, () => server.stop("SIGKILL"), () => server.start());
      const readIds: string[] = [];
      const info = await jsm.streams.info("AUDIT");
      const consumer = await jetstream(admin).consumers.get("AUDIT");
      for await (const m of await consumer.fetch({ max_messages: info.state.messages, expires: 5_000 })) {
        readIds.push(m.headers?.get("ce-id") ?? "");
        if (m.seq === info.state.last_seq) break;
      }
      const read = tally(b.ids, readIds);
      expectNothingLost("broker-restart/nats", b, read);
      expect(read.duplicates, "JetStream drops a re-sent event by its Nats-Msg-Id").toBe(0);
    } finally {
      await run.stop();
      await admin.close();
    }
  }, 90_000);
});
