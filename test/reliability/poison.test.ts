// Scenario 10, a poison event: its handler kills the worker process (as an out-of-memory kill, a process.exit or a
// native crash would). A supervisor restarts the worker each time. The poison delivery must end failed, saying what
// happened, after three stops; every other event, including those the dying workers held, must be delivered.
import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { toQuery } from "../../src/client.ts";
import { claim } from "../../src/store/claim.ts";
import { release } from "../../src/store/complete.ts";
import { countLapsed } from "../../src/store/lapsed.ts";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";

let t: TestOutbox;
afterEach(async () => {
  await t?.drop();
});

describe("poison events: an event whose delivery kills its worker fails for good after three stops", () => {
  it("fails the poison delivery, delivers every other event, and a supervisor's restarts end", async () => {
    t = await testOutbox();
    const normal = await t.outbox.publishEvents(Array.from({ length: 40 }, (_, i) => ({ type: "job", source: "s", data: { i } })));
    const poison = await t.outbox.publishEvent({ type: "job", source: "s", data: { poison: true } });
    const more = await t.outbox.publishEvents(Array.from({ length: 40 }, (_, i) => ({ type: "job", source: "s", data: { i: 40 + i } })));
    let child: ChildProcess | null = null;
    let kills = 0;
    let stopping = false;
    const startChild = (): void => {
      child = spawn("node_modules/.bin/bun", ["test/fixtures/poison-worker.ts"], {
        env: { ...process.env, DATABASE_URL: databaseUrl(), SCHEMA: t.schema },
        stdio: ["ignore", "ignore", "inherit"],
      });
      child.once("exit", (_code, signal) => {
        if (signal === "SIGKILL" && !stopping) kills++;
        if (!stopping) startChild();
      });
    };
    startChild();
    try {
      await waitFor(async () => {
        const [row] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where next_attempt_at is not null`);
        return row.n === 0;
      }, "every event to be finished", 60_000);
    } finally {
      stopping = true;
      const c = child as ChildProcess | null;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGKILL");
        await exited;
      }
    }
    const p = await t.outbox.getEvent(poison.id);
    expect(p?.status).toBe("failed");
    expect(p?.deliveries[0]).toMatchObject({ name: "jobs", status: "failed" });
    expect(p?.deliveries[0].lastError).toMatch(/stopped 3 times without an outcome/);
    expect(kills).toBe(3);
    for (const e of [...normal, ...more]) {
      expect((await t.outbox.getEvent(e.id))?.status, e.id).toBe("published");
    }
    summary("poison", { events: normal.length + more.length + 1, kills, poisonFailed: 1, othersDelivered: normal.length + more.length });
  });

  it("does not count a graceful release, and marks a lapsed lease on the next claim", async () => {
    t = await testOutbox();
    const query = toQuery(t.sql);
    const e = await t.outbox.publishEvent({ type: "job", source: "s" });
    const first = crypto.randomUUID();
    const [held] = (await claim(query, t.outbox.schema, 1, first, 60_000)).rows;
    expect(held.lease_lapsed).toBe(false);
    await release(query, t.outbox.schema, [String(held.seq)], first);
    const [again] = (await claim(query, t.outbox.schema, 1, crypto.randomUUID(), 1)).rows;
    expect(again.lease_lapsed).toBe(false); // handed back by a graceful stop: not a lapse
    await new Promise((r) => setTimeout(r, 20)); // let the 1-ms lease run out
    const [lapsed] = (await claim(query, t.outbox.schema, 1, crypto.randomUUID(), 60_000)).rows;
    expect(lapsed.lease_lapsed).toBe(true);
    expect(lapsed.id).toBe(e.id);
  });

  it("holds a counted suspect longer, so a crash loop does not charge the same event each time", async () => {
    t = await testOutbox();
    const query = toQuery(t.sql);
    await t.outbox.publishEvent({ type: "job", source: "s" });
    await claim(query, t.outbox.schema, 1, crypto.randomUUID(), 1);
    await new Promise((r) => setTimeout(r, 20));
    const lease = crypto.randomUUID();
    const [lapsed] = (await claim(query, t.outbox.schema, 1, lease, 1000)).rows;
    expect(lapsed.lease_lapsed).toBe(true);
    // The lease's end against the database's clock just before the statement that set it: that statement's now()
    // is at or after it, so the figure cannot come out short however slow the machine is between the two reads.
    const now = async (): Promise<Date> => (await t.sql`select now() as now`)[0].now as Date;
    const heldForMs = async (since: Date): Promise<number> => {
      const [r] = await t.sql.unsafe(`select extract(epoch from next_attempt_at - $1::timestamptz) * 1000 as ms from "${t.schema}".events`, [since]);
      return Number(r.ms);
    };
    expect(await heldForMs(await now())).toBeLessThanOrEqual(1000);
    let before = await now();
    expect(await countLapsed(query, t.outbox.schema, String(lapsed.seq), lease, 1000)).toBe(1);
    expect(await heldForMs(before)).toBeGreaterThanOrEqual(2000); // twice the lease: its batch-mates come back before it
    before = await now();
    expect(await countLapsed(query, t.outbox.schema, String(lapsed.seq), lease, 1000)).toBe(2);
    expect(await heldForMs(before)).toBeGreaterThanOrEqual(4000);
    expect(await countLapsed(query, t.outbox.schema, String(lapsed.seq), crypto.randomUUID(), 1000)).toBeNull(); // not ours
  });
});
