// The broker restart audit for Redis Streams: a redis-server of the test's own (a free port, its data in a temporary
// directory) is SIGKILLed while the worker delivers a burst and started again on the same port and directory.
// It runs with the append-only file and `appendfsync always`: Redis then writes and fsyncs each XADD before it
// answers, so an XADD that answered survives the kill. Without persistence (the machine's shared server runs with
// `--save "" --appendonly no`) a killed Redis comes back empty: that is the broker's durability setting, which no
// publisher can make up for, so the audit uses the setting under which "XADD answered" means "stored".
// Redis keeps no record of what it was sent: an XADD whose reply the kill cut off is sent again and stored twice,
// with the same ce_id; those duplicates are counted.
import { createClient } from "redis";
import { afterAll, describe, expect, it } from "vitest";
import { redisStream } from "../../adapters/redis.ts";
import { running } from "../support/brokers.ts";
import { BURST_EVENTS, BURST_RETRY, BURST_WORKER, burst, expectNothingLost, tally } from "./support/broker-burst.ts";
import { brokerServer, installed, succeeds } from "./support/broker-server.ts";

const COMMAND = "/usr/bin/redis-server";
const server = await brokerServer({
  name: "redis",
  command: COMMAND,
  args: (port, dir) => [
    "--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "",
    "--appendonly", "yes", "--appendfsync", "always", "--logfile", "redis.log",
  ],
  ready: (port) =>
    succeeds(async () => {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
      client.on("error", () => undefined);
      try {
        await client.connect();
        await client.ping(); // refused with LOADING while the append-only file is read back
      } finally {
        await client.close().catch(() => undefined);
      }
    }),
});

afterAll(() => server.remove());

describe.skipIf(!installed(COMMAND, "redis-server"))("a Redis server killed and restarted during a burst loses nothing", () => {
  it(`${BURST_EVENTS} events: all published, all in the stream`, async () => {
    await server.start();
    const url = `redis://127.0.0.1:${server.port}`;
    const run = await running(redisStream({ url, stream: "audit" }), BURST_WORKER, BURST_RETRY);
    try {
      const b = await burst(run, () => server.stop("SIGKILL"), () => server.start());
      const reader = createClient({ url });
      await reader.connect();
      const entries = (await reader.xRange("audit", "-", "+")) ?? [];
      await reader.close();
      const read = tally(b.ids, entries.map((e) => String(e?.message.ce_id)));
      expectNothingLost("broker-restart/redis", b, read);
      // The client never sends a command twice (no offline queue): each duplicate is a re-sent attempt.
      expect(read.duplicates).toBeLessThanOrEqual(b.extraAttempts);
    } finally {
      await run.stop();
    }
  }, 90_000);
});
