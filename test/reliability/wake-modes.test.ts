// Scenarios 2 and 3 (listener loss, database restart) in the NOTIFY-free wake-up modes, on a PostgreSQL of this
// file's own with wal_level=logical (the machine's server runs with replica, and a restart must not touch it).
// Logical: the WAL-following connection is terminated again and again during a burst, then held off while events
// commit, which only the reconnect sweep can find (its new slot starts after them). Both modes: two server restarts
// under load. The safety sweep is ten minutes away throughout.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedServer } from "../../examples/embedded-postgres.ts";
import { startLogicalPostgres } from "../support/logical.ts";
import { Outbox, type WakeMode } from "../../mod.ts";
import type { Worker } from "../../src/worker.ts";
import { waitFor } from "../support/db.ts";
import { audit, drained, expectClean, summary } from "./support/check.ts";
import { produce } from "./support/produce.ts";
import { healthy, Receiver } from "./support/receiver.ts";

const EVENTS = 2000;
const SWEEP_MS = 600_000;
const CONNECTION_ERRORS = new Set([
  "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "ECONNREFUSED", "ECONNRESET",
  "57P01", "57P02", "57P03", "EPIPE",
]);
const noop = (): void => {};

let server: EmbeddedServer;
let admin: Sql;
// postgres.js 3.4.9 can throw from a setImmediate after a connection closes (porsager/postgres#1154, #1208), as in
// database-restart.test.ts: counted here for the summary; vitest reports it as the unhandled error it is.
let driverCrashes = 0;
const onCrash = (err: Error): void => {
  if (/reading 'write'/.test(String(err?.message))) driverCrashes++;
};
beforeAll(async () => {
  process.on("uncaughtException", onCrash);
  server = await startLogicalPostgres();
  admin = postgres(server.url, { max: 2, onnotice: noop, connect_timeout: 5 });
});
afterAll(async () => {
  process.off("uncaughtException", onCrash);
  await admin?.end({ timeout: 1 });
  await server?.stop();
});

describe("guarantee 2, wake: \"logical\": inserts missed while the WAL stream was down are recovered by the reconnect sweep", () => {
  let sql: Sql;
  let receiver: Receiver;
  let worker: Worker;
  const schema = "reliability_logical_loss";
  const role = "logical_worker";
  const reconnects: number[] = [];

  afterAll(async () => {
    await worker?.stop();
    await sql?.end({ timeout: 1 });
    await receiver?.close();
  });

  async function killFollower(): Promise<number> {
    const rows = await admin`select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'walsender' and usename = ${role}`;
    return rows.length;
  }

  it("delivers everything while the replication connection is killed repeatedly", async () => {
    await admin.unsafe(`create role ${role} login superuser replication password 'w'`);
    const url = new URL(server.url);
    url.username = role;
    url.password = "w";
    sql = postgres(url.href, { max: 8, onnotice: noop, connect_timeout: 5 });
    const logger = { debug: noop, warn: noop, error: noop, info: (m: string) => void (m === "logical follower reconnected" && reconnects.push(Date.now())) };
    const outbox = new Outbox({ sql, schema, wake: "logical", logger });
    await outbox.migrate();
    receiver = await Receiver.start({ a: healthy, b: healthy });
    for (const d of receiver.destinations()) outbox.register("*", d);
    worker = outbox.worker({ sweepIntervalMs: SWEEP_MS, retention: false });
    await worker.start();

    const started = Date.now();
    const production = produce(outbox, { total: EVENTS, durationMs: 6000 });
    let kills = 0;
    let producing = true;
    void production.done.then(() => (producing = false));
    while (producing) {
      kills += await killFollower();
      await waitFor(() => reconnects.length >= kills, "the follower to reconnect", 10_000);
      await new Promise((r) => setTimeout(r, 150)); // pacing between kills, not a wait for a condition
    }
    await waitFor(() => drained(sql, schema), "every event to be delivered", 60_000);
    const burstMs = Date.now() - started;
    expect(kills).toBeGreaterThan(5);

    // Control: the follower cannot reconnect (its role may not log in) while 100 events commit; no slot exists, so
    // nothing announces them...
    await admin.unsafe(`alter role ${role} nologin`);
    expect(await killFollower()).toBe(1);
    kills++;
    const silent = Array.from({ length: 100 }, (_, i) => ({ type: "test.event", source: "reliability", id: `silent${i}`, data: { i } }));
    await outbox.publishEvents(silent);
    const quietFrom = Date.now();
    await waitFor(() => Date.now() - quietFrom > 1500, "a quiet second and a half");
    expect(receiver.acceptedCount("a") + receiver.acceptedCount("b")).toBe(2 * EVENTS);
    // ...until it may log in again, makes a new slot (which starts after them) and the worker sweeps.
    const allowedAt = Date.now();
    await admin.unsafe(`alter role ${role} login`);
    await waitFor(() => drained(sql, schema), "the reconnect sweep to deliver the silent events", 15_000);
    const sweepRecoveryMs = Date.now() - allowedAt;

    const result = await audit(sql, schema, receiver, receiver.names, [...production.committed, ...silent.map((e) => e.id)]);
    expectClean(result, production.failures, EVENTS + silent.length);
    // The live worker's slot, and none left behind by the killed connections (a slot goes as its walsender exits).
    const slots = async (): Promise<number> => (await admin`select count(*)::int as n from pg_replication_slots`)[0].n;
    await waitFor(async () => (await slots()) === 1, "one replication slot, the live worker's", 10_000);
    summary("listener-loss-logical", {
      load: `${EVENTS}ev/6s,4producers,2webhooks`,
      faults: `${kills}xpg_terminate_backend(walsender)`,
      reconnects: reconnects.length,
      published: result.published,
      delivered: result.delivered,
      duplicates: result.duplicates,
      lost: result.lost,
      burstDrainedMs: burstMs,
      safetySweepMs: SWEEP_MS,
      reconnectSweepRecoveryMs: sweepRecoveryMs,
    });
  }, 120_000);
});

for (const wake of ["logical", "poll"] as const satisfies readonly WakeMode[]) {
  describe(`guarantee 2, wake: "${wake}": a database restart under load loses nothing committed`, () => {
    let sql: Sql;
    let receiver: Receiver;
    let worker: Worker;
    const schema = `reliability_restart_${wake}`;

    afterAll(async () => {
      await worker?.stop();
      await sql?.end({ timeout: 1 });
      await receiver?.close();
    });

    it("keeps delivering across two restarts", async () => {
      sql = postgres(server.url, { max: 8, onnotice: noop, connect_timeout: 5 });
      const outbox = new Outbox({ sql, schema, wake, logger: { debug: noop, info: noop, warn: noop, error: noop }, retry: { baseDelayMs: 50 } });
      await outbox.migrate();
      receiver = await Receiver.start({ a: healthy, b: healthy });
      for (const d of receiver.destinations()) outbox.register("*", d);
      worker = outbox.worker({ sweepIntervalMs: SWEEP_MS, retention: false });
      await worker.start();

      const production = produce(outbox, { total: EVENTS, durationMs: 8000 });
      const downtimes: number[] = [];
      for (let r = 0; r < 2; r++) {
        const before = receiver.arrivals.length;
        await waitFor(() => receiver.arrivals.length > before + 300, "deliveries before the restart", 30_000);
        const t0 = Date.now();
        await server.restart();
        downtimes.push(Date.now() - t0);
      }
      const lastRestartAt = Date.now();
      await production.done;
      await waitFor(() => drained(sql, schema), "every committed event to be delivered", 60_000);
      const recoveryMs = Date.now() - lastRestartAt;

      const unclear = production.failures.filter((f) => !CONNECTION_ERRORS.has((f.error as { code?: string }).code ?? ""));
      expect(unclear.map((f) => String(f.error))).toEqual([]);
      const result = await audit(sql, schema, receiver, receiver.names, production.committed);
      if (result.problems.length) console.log(result.problems);
      const failedIds = production.failures.flatMap((f) => f.ids);
      const [{ n: inDoubt }] = await sql.unsafe(`select count(*)::int as n from "${schema}".events where id = any($1)`, [failedIds]);
      expect(result.lost).toBe(0);
      expect(result.published).toBe(production.committed.size + inDoubt);
      expect(result.delivered).toBe(result.published);
      expect(result.afterDelivered).toBe(0);
      expect(result.untruthful).toBe(0);
      summary(`database-restart-${wake}`, {
        load: `${EVENTS}ev/8s,4producers,2webhooks`,
        faults: "2xrestart(fast shutdown)",
        failedTransactions: production.failures.length,
        inDoubtCommitted: inDoubt,
        published: result.published,
        delivered: result.delivered,
        duplicates: result.duplicates,
        lost: result.lost,
        restartMs: downtimes.join("|"),
        lastRestartToDrainedMs: recoveryMs,
        postgresJsNullSocketCrashes: driverCrashes,
      });
    }, 150_000);
  });
}
