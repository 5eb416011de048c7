// The broker restart audit for MQTT: a Mosquitto of the test's own (a free port, a configuration and a persistence
// file in a temporary directory) is stopped while the worker delivers a burst and started again on the same port and
// store. A subscriber with a persistent session (a fixed client id, clean start off, a session expiry) reads every
// message back at QoS 1, through the restart: the broker keeps its subscription and queues what arrives while it is
// away. The stop is a clean one (SIGTERM): Mosquitto writes its store to disk only every autosave interval and at
// shutdown, so a SIGKILL loses whatever it accepted since the last save, PUBACKed or not; that is the broker's
// durability, which no publisher can make up for. SIGTERM still cuts every connection in the middle of the burst.
// MQTT does not de-duplicate QoS 1: MQTT.js publishes again (DUP flag) what was in flight when its connection
// dropped, the worker retries what timed out, and the broker delivers again (DUP flag) what the subscriber had not
// acknowledged; all of these are counted as duplicates, the last kind also on its own.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import { afterAll, describe, it } from "vitest";
import { mqtt } from "../../adapters/mqtt.ts";
import { running, unique } from "../support/brokers.ts";
import { waitFor } from "../support/db.ts";
import { BURST_EVENTS, BURST_RETRY, BURST_WORKER, burst, expectNothingLost, tally } from "./support/broker-burst.ts";
import { brokerServer, installed, listening } from "./support/broker-server.ts";

const COMMAND = "/usr/sbin/mosquitto";
const server = await brokerServer({
  name: "mosquitto",
  command: COMMAND,
  args: (port, dir) => {
    // As root, Mosquitto would switch to the mosquitto user, which cannot write the test's directory.
    const config = [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 1800",
      `log_dest file ${join(dir, "mosquitto.log")}`,
      ...(process.getuid?.() === 0 ? ["user root"] : []),
    ];
    writeFileSync(join(dir, "mosquitto.conf"), config.join("\n") + "\n");
    return ["-c", join(dir, "mosquitto.conf")];
  },
  ready: listening,
});

afterAll(() => server.remove());

describe.skipIf(!installed(COMMAND, "mosquitto"))("a Mosquitto broker restarted during a burst loses nothing", () => {
  it(`${BURST_EVENTS} events: all published, all read back by a persistent-session subscriber`, async () => {
    await server.start();
    const url = `mqtt://127.0.0.1:${server.port}`;
    const subscriber = await connectAsync(url, {
      protocolVersion: 5,
      clientId: unique("pgd-audit-"),
      clean: false,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 200,
    });
    subscriber.on("error", () => undefined);
    const readIds: string[] = [];
    let redelivered = 0;
    subscriber.on("message", (_topic, _payload, packet) => {
      readIds.push(String(packet.properties?.userProperties?.id));
      if (packet.dup) redelivered++;
    });
    await subscriber.subscribeAsync("audit/events", { qos: 1 });

    const run = await running(mqtt({ url, topic: "audit/events" }), BURST_WORKER, BURST_RETRY);
    try {
      const b = await burst(run, () => server.stop("SIGTERM"), () => server.start());
      // On a timeout the tally below names what is missing.
      await waitFor(() => new Set(readIds).size >= BURST_EVENTS, `the subscriber to read ${BURST_EVENTS} events`, 30_000).catch(() => undefined);
      expectNothingLost("broker-restart/mqtt", b, tally(b.ids, readIds), { redelivered_to_subscriber: redelivered });
    } finally {
      await run.stop();
      await subscriber.endAsync();
    }
  }, 90_000);
});
