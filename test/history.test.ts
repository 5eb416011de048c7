// The attempt history: every attempt at every destination, written with its outcome, read with getEvent.
import { afterEach, describe, expect, it } from "vitest";
import { createServer } from "node:http";
import { webhook } from "../adapters/webhook.ts";
import { DeliveryError, DispatchError } from "../mod.ts";
import { Retention } from "../src/retention.ts";
import type { Worker } from "../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await t?.drop();
});

async function settled(id: string, status: string) {
  return await waitFor(async () => {
    const e = await t.outbox.getEvent(id, { history: true });
    return e?.status === status ? e : null;
  }, `event ${id} to be ${status}`);
}

describe("attempt history: every attempt is recorded with its outcome", () => {
  it("records retries, the final failure and a sibling's success, oldest first, with durations and status codes", async () => {
    t = await testOutbox({ retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    let calls = 0;
    t.outbox.register("h", () => {
      calls++;
      throw new DeliveryError(`HTTP 503 (try ${calls})`, { status: 503 });
    }, { name: "flaky" });
    t.outbox.register("h", { name: "accepting", deliver: async () => ({ status: 202 }) });
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "h", source: "s" });
    const done = await settled(e.id, "failed");
    const history = done.history!;
    // Both destinations' first attempts start together: compare per destination, in attempt order.
    const rows = history.map((a) => [a.destination, a.attempt, a.outcome, a.status ?? null, a.error ?? null] as const);
    expect(rows.filter((r) => r[0] === "accepting")).toEqual([["accepting", 1, "delivered", 202, null]]);
    expect(rows.filter((r) => r[0] === "flaky")).toEqual([
      ["flaky", 1, "retry", 503, "HTTP 503 (try 1)"],
      ["flaky", 2, "retry", 503, "HTTP 503 (try 2)"],
      ["flaky", 3, "failed", 503, "HTTP 503 (try 3)"],
    ]);
    for (const a of history) {
      expect(a.startedAt).toBeInstanceOf(Date);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }
    // Oldest first.
    const times = history.map((a) => a.startedAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // Without the option, no history is read.
    expect((await t.outbox.getEvent(e.id))?.history).toBeUndefined();
  });

  it("records a webhook's HTTP status for each attempt", async () => {
    t = await testOutbox({ retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(++n === 1 ? 503 : 204).end(n === 1 ? "busy" : undefined));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { port } = server.address() as { port: number };
      t.outbox.register("w", webhook({ url: `http://127.0.0.1:${port}/in`, name: "hook" }));
      worker = t.outbox.worker({ retention: false });
      await worker.start();
      const e = await t.outbox.publishEvent({ type: "w", source: "s" });
      const done = await settled(e.id, "published");
      expect(done.history!.map((a) => [a.attempt, a.outcome, a.status])).toEqual([[1, "retry", 503], [2, "delivered", 204]]);
      expect(done.history![0].error).toMatch(/^HTTP 503 from .*: busy$/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("keeps the history going across a retry by hand", async () => {
    t = await testOutbox();
    let ok = false;
    t.outbox.register("m", () => {
      if (!ok) throw new Error("down");
    }, { name: "manual" });
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "m", source: "s", maxRetries: 0 });
    await settled(e.id, "failed");
    ok = true;
    await t.outbox.retryEvent(e.id);
    const done = await settled(e.id, "published");
    expect(done.history!.map((a) => [a.attempt, a.outcome, a.error ?? null])).toEqual([[1, "failed", "down"], [2, "delivered", null]]);
  });

  it("records nothing when the worker's history is off", async () => {
    t = await testOutbox();
    t.outbox.register("q", () => {});
    worker = t.outbox.worker({ retention: false, history: false });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "q", source: "s" });
    expect((await settled(e.id, "published")).history).toEqual([]);
  });

  it("refuses a history option that is not a boolean", async () => {
    t = await testOutbox();
    await expect(t.outbox.getEvent("x", { history: "yes" as never })).rejects.toBeInstanceOf(DispatchError);
    expect(() => t.outbox.worker({ history: 1 as never })).toThrow(DispatchError);
  });

  it("retention deletes attempts past their own age, whatever became of the event", async () => {
    t = await testOutbox();
    t.outbox.register("r", () => {});
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    const events = await t.outbox.publishEvents([1, 2, 3].map((i) => ({ type: "r", source: "s", data: { i } })));
    for (const e of events) await settled(e.id, "published");
    await t.sql.unsafe(`update "${t.schema}".attempts set started_at = now() - interval '10 days' where event_seq = (select min(seq) from "${t.schema}".events)`);
    const retention = new Retention(
      { query: (text, params) => t.sql.unsafe(text, params as never[]), schema: t.outbox.schema, logger: t.outbox.logger },
      { historyMs: 86_400_000, batchSize: 1 },
    );
    await retention.sweep();
    const left = await Promise.all(events.map(async (e) => (await t.outbox.getEvent(e.id, { history: true }))!.history!.length));
    expect(left).toEqual([0, 1, 1]);
  });
});
