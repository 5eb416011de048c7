// Scenario 12, effectively once with a transactional handler: a burst of events to a handler that writes one effect
// row per event in the outbox's database, while its worker process is SIGKILLed again and again (after the handler's
// commit and before its outcome is written, among other moments). Every event must have exactly one effect row, even
// though handlers ran more often than that.
import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";

const EVENTS = 1500;
let t: TestOutbox;
afterEach(async () => {
  await t?.drop();
});

describe("transactional handlers under worker SIGKILLs: exactly one effect per event", () => {
  it("counts one effect row per event while handler runs were repeated", async () => {
    t = await testOutbox();
    await t.sql.unsafe(`create table "${t.schema}".effects (event_id text not null)`);
    let runs = 0;
    /** The first worker printed that it is inside the held event's transaction (see the fixture). */
    let held = false;
    let kills = 0;
    let child: ChildProcess | null = null;
    const startChild = (): ChildProcess => {
      const c = spawn("node_modules/.bin/bun", ["test/fixtures/transactional-worker.ts"], {
        // Only the first worker holds the event with i 0 (see the fixture); the later ones run it at full speed.
        env: { ...process.env, DATABASE_URL: databaseUrl(), SCHEMA: t.schema, HOLD: kills === 0 ? "1" : "0" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      c.stdout!.on("data", (d: Buffer) => {
        runs += (String(d).match(/^ran /gm) ?? []).length;
        if (/^held$/m.test(String(d))) held = true;
      });
      return c;
    };
    const unfinished = async (): Promise<number> =>
      (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where next_attempt_at is not null`))[0].n;
    const publishing = (async () => {
      for (let i = 0; i < EVENTS; i += 100) {
        await t.outbox.publishEvents(Array.from({ length: 100 }, (_, k) => ({ type: "job", source: "s", data: { i: i + k } })));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      // Kill the first worker inside the held event's transaction, so at least one run is cut before its commit;
      // then every 300-600 ms while work remains, up to 12 times; then let one finish.
      while (kills < 12) {
        child = startChild();
        if (kills === 0) await waitFor(() => held, "the first worker to hold the event with i 0");
        else await new Promise((r) => setTimeout(r, 300 + Math.random() * 300));
        const exited = new Promise((r) => child!.once("exit", r));
        child.kill("SIGKILL");
        await exited;
        kills++;
      }
      await publishing;
      child = startChild();
      await waitFor(async () => (await unfinished()) === 0, "every event to be delivered", 60_000);
    } finally {
      const c = child as ChildProcess | null;
      if (c && c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGKILL");
        await exited;
      }
    }
    const [{ events, published }] = await t.sql.unsafe(
      `select count(*)::int as events, count(*) filter (where status = 'published')::int as published from "${t.schema}".events`,
    );
    const counts = await t.sql.unsafe(`select event_id, count(*)::int as n from "${t.schema}".effects group by event_id`);
    const duplicateEffects = counts.filter((r) => r.n !== 1).length;
    expect(events).toBe(EVENTS);
    expect(published).toBe(EVENTS);
    expect(counts.length).toBe(EVENTS);
    expect(duplicateEffects).toBe(0);
    expect(runs).toBeGreaterThan(EVENTS); // the held run, at least, was cut and ran again
    summary("transactional-kill", { events: EVENTS, kills, handlerRuns: runs, effects: counts.length, duplicateEffects });
  }, 120_000);
});
