// Scenario 2, listener loss: the worker's LISTEN connection is terminated again and again during a publish burst.
// The safety sweep is set to ten minutes, so anything delivered within seconds was found by a notification or by
// the sweep the worker runs on every reconnect; a control at the end isolates the reconnect sweep.
import { afterAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { audit, drained, expectClean, summary } from "./support/check.ts";
import { produce } from "./support/produce.ts";
import { healthy, Receiver } from "./support/receiver.ts";

const EVENTS = 2000;
const SWEEP_MS = 600_000;

describe("guarantee 2: notifications missed while the listener was down are recovered by the reconnect sweep", () => {
  let t: TestOutbox;
  let receiver: Receiver;
  let worker: Worker;
  const reconnects: number[] = [];

  afterAll(async () => {
    await worker?.stop();
    await receiver?.close();
    await t?.drop();
  });

  async function killListener(): Promise<number> {
    const rows = await t.sql.unsafe(
      `select pg_terminate_backend(pid) from pg_stat_activity where query = $1 and pid <> pg_backend_pid()`,
      [`listen "${t.schema}"`],
    );
    return rows.length;
  }

  it("delivers everything promptly while the LISTEN connection is killed repeatedly", async () => {
    const noop = (): void => {};
    t = await testOutbox({
      logger: { debug: noop, warn: noop, error: noop, info: (msg) => msg === "listener reconnected" && reconnects.push(Date.now()) },
    });
    receiver = await Receiver.start({ a: healthy, b: healthy });
    for (const d of receiver.destinations()) t.outbox.register("*", d);
    worker = t.outbox.worker({ sweepIntervalMs: SWEEP_MS, retention: false });
    await worker.start();

    const started = Date.now();
    const production = produce(t.outbox, { total: EVENTS, durationMs: 6000 });
    let kills = 0;
    let producing = true;
    void production.done.then(() => (producing = false));
    while (producing) {
      kills += await killListener();
      await waitFor(() => reconnects.length >= kills, "the listener to reconnect", 10_000);
      // Let some traffic through between kills; pacing, not a wait for a condition.
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitFor(() => drained(t.sql, t.schema), "every event to be delivered", 60_000);
    const burstMs = Date.now() - started;
    expect(kills).toBeGreaterThan(5);

    // Control: events published without NOTIFY are not found while the worker sleeps (the safety sweep is minutes
    // away)...
    const silent = Array.from({ length: 100 }, (_, i) => ({ type: "test.event", source: "reliability", id: `silent${i}`, data: { i } }));
    await t.outbox.publishEvents(silent, { notify: false });
    const quietFrom = Date.now();
    await waitFor(() => Date.now() - quietFrom > 1500, "a quiet second and a half");
    expect(receiver.acceptedCount("a") + receiver.acceptedCount("b")).toBe(2 * EVENTS);
    // ...until the listener reconnects and the worker sweeps.
    const killedAt = Date.now();
    expect(await killListener()).toBe(1);
    await waitFor(() => drained(t.sql, t.schema), "the reconnect sweep to deliver the silent events", 10_000);
    const sweepRecoveryMs = Date.now() - killedAt;
    kills++;

    const result = await audit(t.sql, t.schema, receiver, receiver.names, [...production.committed, ...silent.map((e) => e.id)]);
    expectClean(result, production.failures, EVENTS + silent.length);
    summary("listener-loss", {
      load: `${EVENTS}ev/6s,4producers,2webhooks`,
      faults: `${kills}xpg_terminate_backend(listener)`,
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
