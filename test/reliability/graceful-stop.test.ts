// Scenario 6, graceful stop under load: SIGTERM a child-process worker during a burst (it calls worker.stop());
// in-flight deliveries finish or are released, and after the process exits no row is left `processing` with a
// live lease. (The fixture drives a Worker directly; graceful-stop-cli.test.ts does the same to `pg-dispatch worker`.)
import { afterAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker.ts";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { audit, drained, expectClean, summary } from "./support/check.ts";
import { type ChildWorker, killChild, startChildWorker } from "./support/child.ts";
import { produce } from "./support/produce.ts";
import { type Behaviour, Receiver } from "./support/receiver.ts";

const EVENTS = 2000;
const STOPS = 3;

/** Slow enough that a stopping worker always has requests in flight, some longer than its stopTimeoutMs. */
const sluggish: Behaviour = ({ answer }) => setTimeout(() => answer(204), 20 + Math.floor(Math.random() * 400));

describe("graceful stop: nothing is left processing with a live lease", () => {
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

  it("finishes or releases in-flight deliveries on SIGTERM", async () => {
    t = await testOutbox();
    receiver = await Receiver.start({ a: sluggish, b: sluggish });
    const production = produce(t.outbox, { total: EVENTS, durationMs: 6000 });
    let inFlightAtStop = 0;
    let leftLeased = 0;
    const stopMs: number[] = [];
    for (let s = 0; s < STOPS; s++) {
      child = await startChildWorker({
        url: databaseUrl(),
        schema: t.schema,
        urls: receiver.urls,
        // A long lease: a row it left behind would stay claimed for a minute, which the check below would see.
        worker: { leaseMs: 60_000, handlerTimeoutMs: 5000, stopTimeoutMs: 200, concurrency: 32, retention: false },
      });
      const before = receiver.arrivals.length;
      await waitFor(() => receiver.arrivals.length >= before + 150, "the worker to be busy", 30_000);
      inFlightAtStop += receiver.arrivals.filter((a) => a.end === 0).length;
      const t0 = Date.now();
      child.process.kill("SIGTERM");
      expect(await child.exited).toBe(0);
      stopMs.push(Date.now() - t0);
      expect(child.stdout()).toContain("stopped");
      const [r] = await t.sql.unsafe(
        `select count(*)::int as n from "${t.schema}".events where status = 'processing' or (lease is not null and next_attempt_at > now())`,
      );
      leftLeased += r.n;
      expect(r.n).toBe(0);
    }
    expect(inFlightAtStop).toBeGreaterThan(0);

    worker = t.outbox.worker({ retention: false });
    for (const d of receiver.destinations()) t.outbox.register("*", d);
    await worker.start();
    await production.done;
    await waitFor(() => drained(t.sql, t.schema), "every event to be delivered", 60_000);
    const result = await audit(t.sql, t.schema, receiver, receiver.names, production.committed);
    expectClean(result, production.failures, EVENTS);
    summary("graceful-stop", {
      load: `${EVENTS}ev/6s,4producers,2webhooks(20-420ms)`,
      faults: `${STOPS}xSIGTERM(stopTimeoutMs=200)`,
      requestsInFlightAtSigterm: inFlightAtStop,
      leftProcessingOrLeased: leftLeased,
      published: result.published,
      delivered: result.delivered,
      duplicates: result.duplicates,
      lost: result.lost,
      sigtermToExitMs: stopMs.join("|"),
    });
  }, 120_000);
});
