// Scenario 6 with the real binary: `node dist/src/cli.js worker --config <module>` (the process operators run) gets
// SIGTERM during a publish burst, three times. Each time it must exit 0 with in-flight deliveries finished or
// released: no row left `processing`, none with a live lease. A second CLI worker then finishes everything, and the
// audit holds (every event delivered at least once everywhere, nothing delivered after it was recorded delivered).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { audit, drained, summary } from "./support/check.ts";
import { ROOT, startCli } from "./support/cli.ts";
import { produce } from "./support/produce.ts";
import { type Behaviour, Receiver } from "./support/receiver.ts";

const EVENTS = 2000;
const STOPS = 3;
/** Worker flags: a long lease, so a row the worker left claimed would stay leased for a minute and be seen below. */
const FLAGS = ["--lease-ms", "60000", "--handler-timeout-ms", "5000", "--stop-timeout-ms", "200", "--log-level", "info"];

/**
 * Slow enough that a stopping worker always has requests in flight, some longer than its --stop-timeout-ms; answers
 * at once when the stops are over, so that the second worker's drain stays short on a busy machine.
 */
let slow = true;
const sluggish: Behaviour = ({ answer }) => slow ? setTimeout(() => answer(204), 20 + Math.floor(Math.random() * 400)) : answer(204);

/** A config module as a user writes one: the Outbox, one webhook per receiver endpoint, on the built package. */
function writeConfig(dir: string): string {
  const file = join(dir, "dispatch.config.mjs");
  const url = (path: string): string => JSON.stringify(pathToFileURL(join(ROOT, path)).href);
  writeFileSync(
    file,
    `import postgres from ${url("node_modules/postgres/src/index.js")};
import { Outbox } from ${url("dist/mod.js")};
import { webhook } from ${url("dist/adapters/webhook.js")};

const sql = postgres(process.env.DATABASE_URL, { max: 4, onnotice() {} });
export const outbox = new Outbox({ sql, schema: process.env.PGD_SCHEMA, retry: { baseDelayMs: 50, maxDelayMs: 1000 } });
for (const [name, url] of Object.entries(JSON.parse(process.env.PGD_URLS))) {
  outbox.register("*", webhook({ url, name, timeoutMs: 5000 }));
}
`,
  );
  return file;
}

/** The worker's log, one JSON object per line. */
function messages(stdout: string): string[] {
  return stdout.trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe("graceful stop of the CLI worker: nothing is left processing with a live lease", () => {
  let t: TestOutbox;
  let receiver: Receiver;
  let dir: string;
  let worker: ReturnType<typeof startCli> | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pg-dispatch-stop-"));
  }, 120_000);
  afterAll(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill("SIGKILL");
      await worker.done;
    }
    await receiver?.close();
    await t?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("exits 0 on SIGTERM with in-flight deliveries finished or released", async () => {
    t = await testOutbox();
    receiver = await Receiver.start({ a: sluggish, b: sluggish });
    const config = writeConfig(dir);
    const env = { PGD_SCHEMA: t.schema, PGD_URLS: JSON.stringify(receiver.urls) };
    const startWorker = async (concurrency = 32): Promise<NonNullable<typeof worker>> => {
      const w = startCli(["worker", "--config", config, ...FLAGS, "--concurrency", String(concurrency)], env);
      await waitFor(() => w.output().includes("worker started") || w.child.exitCode !== null, "the CLI worker to start", 15_000);
      expect(w.child.exitCode, w.output()).toBe(null);
      return w;
    };
    const began = Date.now();
    const production = produce(t.outbox, { total: EVENTS, durationMs: 6000 });
    let inFlightAtStop = 0;
    let leftProcessing = 0;
    let leftLeased = 0;
    const stopMs: number[] = [];
    for (let s = 0; s < STOPS; s++) {
      worker = await startWorker();
      const before = receiver.arrivals.length;
      await waitFor(() => receiver.arrivals.length >= before + 150, "the CLI worker to be busy", 15_000);
      inFlightAtStop += receiver.arrivals.filter((a) => a.end === 0).length;
      const t0 = Date.now();
      worker.child.kill("SIGTERM");
      const run = await worker.done;
      stopMs.push(Date.now() - t0);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      const log = messages(run.stdout);
      expect(log).toEqual(expect.arrayContaining(["worker started", "stopping", "worker stopped"]));
      expect(log.at(-1)).toBe("worker stopped");
      const [r] = await t.sql.unsafe(
        `select count(*) filter (where status = 'processing')::int as processing,
                count(*) filter (where lease is not null and next_attempt_at > now())::int as leased
           from "${t.schema}".events`,
      );
      leftProcessing += r.processing;
      leftLeased += r.leased;
      expect(r).toEqual({ processing: 0, leased: 0 });
    }
    expect(inFlightAtStop).toBeGreaterThan(0);

    // A second CLI worker finishes what the stopped ones left (wider, to keep the test short), and is stopped the same
    // way once the table drains.
    const drainStart = Date.now();
    slow = false;
    worker = await startWorker(128);
    await production.done;
    await waitFor(() => drained(t.sql, t.schema), "every event to be delivered", 20_000);
    const drainMs = Date.now() - drainStart;
    worker.child.kill("SIGTERM");
    expect((await worker.done).code).toBe(0);

    const result = await audit(t.sql, t.schema, receiver, receiver.names, production.committed);
    const { lost, delivered, afterDelivered, untruthful, problems } = result;
    expect({ failures: production.failures, lost, delivered, afterDelivered, untruthful }, problems.join("\n"))
      .toEqual({ failures: [], lost: 0, delivered: EVENTS, afterDelivered: 0, untruthful: 0 });
    summary("graceful-stop/cli", {
      load: `${EVENTS}ev/6s,4producers,2webhooks(20-420ms,then 0)`,
      faults: `${STOPS}xSIGTERM(node dist/src/cli.js worker,--concurrency=32,--stop-timeout-ms=200)`,
      requestsInFlightAtSigterm: inFlightAtStop,
      leftProcessing,
      leftLeased,
      published: result.published,
      delivered: result.delivered,
      duplicates: result.duplicates,
      lost: result.lost,
      sigtermToExitMs: stopMs.join("|"),
      stopsDoneAfterMs: drainStart - began,
      secondWorkerDrainedMs: drainMs,
    });
  }, 40_000);
});
