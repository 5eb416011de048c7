// Effectively once, end to end: the outbox in database A sends signed webhooks to a receiver PROCESS (the built
// receiver on node:http) that writes one effect row per event in database B. The worker and the receiver are both
// SIGKILLed, again and again, during a burst. The sender delivers at least once, so the receiver sees duplicates;
// the inbox, in the transaction of the effect, must leave exactly one effect per event.
import { freePort } from "../../examples/embedded-postgres.ts";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import postgres, { type Sql } from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { SECRET } from "../support/receiver.ts";
import { drained, summary } from "./support/check.ts";
import { type ChildWorker, killChild, startChildWorker } from "./support/child.ts";
import { produce } from "./support/produce.ts";

const EVENTS = 3000;
const PUBLISH_MS = 8000;
const KILLS = 10; // alternating: worker, receiver, worker, ...
const LEASE_MS = 1000;
const FIXTURE = join(import.meta.dirname, "fixtures", "receiver.mjs");

interface ChildReceiver {
  process: ChildProcess;
  exited: Promise<unknown>;
}

describe("effectively once: an inbox in the receiver's transaction turns at-least-once delivery into one effect per event", () => {
  let t: TestOutbox;
  let admin: Sql;
  let b: Sql | undefined;
  let database: string;
  let worker: ChildWorker | null = null;
  let receiver: ChildReceiver | null = null;
  let duplicatesSeen = 0;

  afterAll(async () => {
    await killChild(worker);
    if (receiver && receiver.process.exitCode === null && receiver.process.signalCode === null) {
      receiver.process.kill("SIGKILL");
      await receiver.exited;
    }
    await b?.end({ timeout: 1 });
    if (database) await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin?.end({ timeout: 1 });
    await t?.drop();
  });

  async function startReceiver(url: string, port: number): Promise<ChildReceiver> {
    const child = spawn(process.execPath, [FIXTURE], {
      env: { ...process.env, RECEIVER: JSON.stringify({ url, schema: "app", port, secret: SECRET }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let pending = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c;
      pending += c;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.startsWith("dup ")) duplicatesSeen++;
    });
    child.stderr!.on("data", (c: Buffer) => (err += c));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the receiver exited early: ${err}`);
      return out.includes("ready");
    }, "the receiver process to listen", 15_000);
    return { process: child, exited };
  }

  it("counts exactly one effect per event while the receiver saw duplicates", async () => {
    t = await testOutbox();
    admin = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    database = `pgd_receiver_${Math.random().toString(36).slice(2, 10)}`;
    await admin.unsafe(`create database ${database}`);
    const u = new URL(databaseUrl());
    u.pathname = `/${database}`;
    b = postgres(u.href, { max: 2, onnotice: () => {} });
    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/hooks`;
    const config = {
      url: databaseUrl(),
      schema: t.schema,
      urls: { receiver: hook },
      secret: SECRET,
      webhookTimeoutMs: 500,
      worker: { leaseMs: LEASE_MS, handlerTimeoutMs: 500, concurrency: 32, sweepIntervalMs: 2000, retention: false as const },
    };
    receiver = await startReceiver(u.href, port);
    worker = await startChildWorker(config);
    const effects = async (): Promise<number> => Number((await b!.unsafe(`select count(*) as n from app.effects`))[0].n);

    const started = Date.now();
    const production = produce(t.outbox, { total: EVENTS, durationMs: PUBLISH_MS });
    let workerKills = 0;
    let receiverKills = 0;
    for (let k = 0; k < KILLS; k++) {
      const before = await effects();
      const after = 30 + Math.floor(Math.random() * 100);
      await waitFor(async () => (await effects()) >= Math.min(before + after, EVENTS), `${after} more effects`, 20_000);
      if (k % 2 === 0) {
        worker!.process.kill("SIGKILL");
        await worker!.exited;
        workerKills++;
        worker = await startChildWorker(config);
      } else {
        receiver!.process.kill("SIGKILL");
        await receiver!.exited;
        receiverKills++;
        receiver = await startReceiver(u.href, port);
      }
    }
    const killsDoneMs = Date.now() - started;
    await production.done;
    expect(production.failures).toEqual([]);
    await waitFor(() => drained(t.sql, t.schema), "every event to be delivered", 45_000);
    const drainedMs = Date.now() - started;

    const [a] = await t.sql.unsafe(
      `select count(*)::int as events, count(*) filter (where status = 'published')::int as published from "${t.schema}".events`,
    );
    const [r] = await b.unsafe(`select count(*)::int as effects, count(distinct event_id)::int as distinct_events from app.effects`);
    const [twice] = await b.unsafe(`select count(*)::int as n from (select event_id from app.effects group by event_id having count(*) > 1) d`);
    const [inbox] = await b.unsafe(`select count(*)::int as n from app.inbox`);
    const [attempts] = await t.sql.unsafe(
      `select coalesce(sum((d.value->>'attempts')::int), 0)::int as n from "${t.schema}".events e, jsonb_each(e.deliveries) d`,
    );
    expect(a).toEqual({ events: EVENTS, published: EVENTS });
    expect(r).toEqual({ effects: EVENTS, distinct_events: EVENTS });
    expect(twice.n).toBe(0);
    expect(inbox.n).toBe(EVENTS);
    expect(duplicatesSeen).toBeGreaterThan(0); // the sender did deliver some events more than once
    summary("receiver-effectively-once", {
      load: `${EVENTS}ev/${PUBLISH_MS / 1000}s,4producers,1signedwebhook`,
      faults: `${workerKills}xSIGKILLworker+${receiverKills}xSIGKILLreceiver`,
      published: a.published,
      effects: r.effects,
      duplicatesDelivered: duplicatesSeen,
      duplicateEffects: twice.n,
      attemptsRecorded: attempts.n,
      killsDoneMs,
      drainedMs,
    });
  }, 90_000);
});

