// Scenario 1, worker crash: a worker in a child process is SIGKILLed mid-batch, again and again, while producers
// keep publishing; a worker started after the last kill finishes everything once the dead workers' leases expire.
import { afterAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker.ts";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { audit, drained, summary } from "./support/check.ts";
import { type ChildWorker, killChild, startChildWorker } from "./support/child.ts";
import { produce } from "./support/produce.ts";
import { type Behaviour, Receiver } from "./support/receiver.ts";

const EVENTS = 2000;
const PUBLISH_MS = 10_000;
const KILLS = 6;
const LEASE_MS = 1000;

/** Answers 204 after a few milliseconds, so a worker always has requests in flight when it is killed. */
const busy: Behaviour = ({ answer }) => setTimeout(() => answer(204), 2 + Math.floor(Math.random() * 10));

describe("guarantee 2: a crashed worker's claims come back after its lease expires", () => {
  let t: TestOutbox;
  let receiver: Receiver;
  let child: ChildWorker | null = null;
  let worker: Worker | null = null;

  afterAll(async () => {
    await killChild(child);
    await worker?.stop();
    await receiver?.close();
    await t?.drop();
  });

  it("loses nothing when the worker is SIGKILLed mid-batch repeatedly under load", async () => {
    t = await testOutbox();
    receiver = await Receiver.start({ a: busy, b: busy });
    const dests = receiver.names;
    const config = {
      url: databaseUrl(),
      schema: t.schema,
      urls: receiver.urls,
      // Six kills from outside in a few seconds: each one counts against the events in flight (README, "Poison
      // events"), and an event unlucky enough to be in flight at three of them would be failed as poison. That limit
      // is out of reach here; test/reliability/poison.test.ts covers it.
      worker: {
        leaseMs: LEASE_MS, handlerTimeoutMs: 500, concurrency: 32, sweepIntervalMs: 60_000, retention: false as const,
        maxLeaseExpiries: 1000,
      },
    };
    const production = produce(t.outbox, { total: EVENTS, durationMs: PUBLISH_MS });
    const recoveries: Promise<number>[] = [];
    let heldAtKills = 0;
    let lastKillAt = 0;

    for (let k = 0; k < KILLS; k++) {
      child = await startChildWorker(config);
      const before = receiver.arrivals.length;
      const after = 100 + Math.floor(Math.random() * 300);
      await waitFor(() => receiver.arrivals.length >= before + after, `the worker to deliver ${after} requests`, 20_000);
      child.process.kill("SIGKILL");
      await child.exited;
      lastKillAt = Date.now();
      // Everything still leased now belongs to the dead worker: time how long until each of those events is done.
      const held = (await t.sql.unsafe(
        `select seq from "${t.schema}".events where lease is not null and next_attempt_at > now()`,
      )).map((r) => String(r.seq));
      heldAtKills += held.length;
      const killedAt = lastKillAt;
      recoveries.push(waitFor(async () => {
        const [r] = await t.sql.unsafe(
          `select count(*)::int as n from "${t.schema}".events where seq = any($1::bigint[]) and next_attempt_at is not null`,
          [held],
        );
        return r.n === 0;
      }, "the dead worker's events to be delivered", 60_000).then(() => Date.now() - killedAt));
    }
    expect(heldAtKills).toBeGreaterThan(0); // the kills did land mid-batch

    // The survivor: a worker in this process.
    worker = t.outbox.worker({ leaseMs: LEASE_MS, handlerTimeoutMs: 500, sweepIntervalMs: 60_000, retention: false, maxLeaseExpiries: 1000 });
    for (const d of receiver.destinations(dests, 5000)) t.outbox.register("*", d);
    await worker.start();
    await production.done;
    await waitFor(() => drained(t.sql, t.schema), "every event to be finished", 60_000);
    const finishedMs = Date.now() - lastKillAt;
    const recoveryMs = await Promise.all(recoveries);

    const result = await audit(t.sql, t.schema, receiver, dests, production.committed);
    if (result.problems.length) console.log(result.problems);
    expect(production.failures).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.published).toBe(EVENTS);
    expect(result.delivered).toBe(EVENTS);
    expect(result.lost).toBe(0);
    expect(result.afterDelivered).toBe(0);
    expect(result.untruthful).toBe(0);
    summary("worker-crash", {
      load: `${EVENTS}ev/${PUBLISH_MS / 1000}s,4producers,2webhooks`,
      faults: `${KILLS}xSIGKILL`,
      heldAtKills,
      published: result.published,
      delivered: result.delivered,
      duplicates: result.duplicates,
      lost: result.lost,
      recoveryMsMax: Math.max(...recoveryMs),
      recoveryMsMedian: recoveryMs.sort((a, b) => a - b)[Math.floor(recoveryMs.length / 2)],
      lastKillToDrainedMs: finishedMs,
      leaseMs: LEASE_MS,
    });
  }, 120_000);
});
