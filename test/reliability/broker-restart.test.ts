// The reliability audit for the brokers: a NATS server (JetStream, file storage) that this test starts itself on a
// free port is killed in the middle of a burst and started again on the same port and store. Every event must end
// up published and in the stream exactly once (Nats-Msg-Id de-duplicates what was re-sent after the restart).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { nats } from "../../adapters/nats.ts";
import { waitFor } from "../support/db.ts";
import { closedPort, running } from "../support/brokers.ts";

const EVENTS = 400;
const store = mkdtempSync(join(tmpdir(), "pgd-nats-"));
let server: ChildProcess | undefined;

function startServer(port: number): ChildProcess {
  return spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], { stdio: "ignore" });
}

async function stopServer(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    s.once("exit", () => resolve());
    s.kill("SIGKILL");
  });
}

async function reachable(port: number): Promise<boolean> {
  try {
    const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

afterAll(async () => {
  await stopServer();
  rmSync(store, { recursive: true, force: true });
});

describe("a NATS server killed and restarted during a burst loses nothing", () => {
  it(`${EVENTS} events: all published, each stored once`, async () => {
    const port = await closedPort();
    server = startServer(port);
    await waitFor(() => reachable(port), "nats-server to start");
    const admin = await connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: "AUDIT", subjects: ["audit.>"], duplicate_window: 10 * 60 * 1e9 });

    const run = await running(
      nats({ servers: `127.0.0.1:${port}`, subject: "audit.events", ackTimeoutMs: 2_000 }),
      { handlerTimeoutMs: 3_000 },
      { retry: { maxRetries: 100, baseDelayMs: 50, maxDelayMs: 1_000 } },
    );
    try {
      const ids: string[] = [];
      for (let i = 0; i < EVENTS; i += 50) {
        const batch = await run.db.outbox.publishEvents(
          Array.from({ length: 50 }, (_, j) => ({ type: "audit.tick", source: "audit", data: { n: i + j } })),
        );
        ids.push(...batch.map((e) => e.id));
        if (i === 150) {
          await stopServer();
          server = startServer(port);
        }
      }
      await waitFor(async () => {
        const [row] = await run.db.sql.unsafe(`select count(*)::int as n from "${run.db.schema}".events where status = 'published'`);
        return row.n === EVENTS;
      }, `all ${EVENTS} events published`, 120_000);
      const info = await waitFor(async () => {
        const i = await jsm.streams.info("AUDIT").catch(() => undefined);
        return i?.state.messages === EVENTS ? i : undefined;
      }, `${EVENTS} messages in the stream`, 30_000);
      expect(info.state.messages).toBe(EVENTS);
    } finally {
      await run.stop();
      await admin.close();
    }
  }, 180_000);
});
