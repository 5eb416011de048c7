// Scenario 9, hostile values: what producers, handlers and the database can be handed that no sane caller would
// send. One bad value fails one delivery or one request, with a clear error, and nothing else: the outcome writer
// keeps recording every other outcome, a handler that throws an unprintable value fails only its own delivery,
// and a publish PostgreSQL would refuse is refused first, as a DispatchError, changing nothing.
import { afterEach, describe, expect, it } from "vitest";
import { DispatchError } from "../../mod.ts";
import { toQuery } from "../../src/client.ts";
import { claim } from "../../src/store/claim.ts";
import { complete, type Outcome } from "../../src/store/complete.ts";
import { OutcomeWriter } from "../../src/worker/outcome-writer.ts";
import { UNSTORABLE_ERROR, writeOutcomes } from "../../src/worker/outcomes.ts";
import type { Worker } from "../../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";

let t: TestOutbox;
let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await t?.drop();
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The outcome a worker writes for a claimed event that its one destination, "d", took. */
function delivered(row: { seq: unknown }): Outcome {
  return {
    seq: String(row.seq),
    status: "published",
    deliveries: { d: { status: "delivered", attempts: 1, lastError: null, nextAttemptAt: null, deliveredAt: Date.now() } },
    next_attempt_at: null,
    last_error: null,
    attempts: [{ destination: "d", attempt: 1, startedAt: Date.now(), durationMs: 1, outcome: "delivered", status: 204, error: null }],
  };
}

describe("guarantee 2 and 9: one outcome the database refuses cannot stop the others from being recorded", () => {
  it("writes a refused batch row by row, and stores the refused row with a placeholder error", async () => {
    t = await testOutbox();
    const query = toQuery(t.sql);
    const published = await t.outbox.publishEvents([1, 2, 3].map((i) => ({ type: "x", source: "s", data: { i } })));
    const lease = crypto.randomUUID();
    const rows = (await claim(query, t.outbox.schema, 10, lease, 60_000)).rows;
    expect(rows).toHaveLength(3);
    const outcomes = rows.map(delivered);
    // The middle one carries what a hostile endpoint once sent: a NUL, and a surrogate cut from its pair.
    outcomes[1] = {
      ...outcomes[1],
      status: "failed",
      deliveries: { d: { status: "failed", attempts: 1, lastError: "HTTP 500: \u0000\uD83D", nextAttemptAt: null, deliveredAt: null } },
      last_error: "d: HTTP 500: \u0000\uD83D",
      attempts: [{ destination: "d", attempt: 1, startedAt: Date.now(), durationMs: 1, outcome: "failed", status: 500, error: "HTTP 500: \u0000\uD83D" }],
    };
    // The hazard itself: the one statement for the whole batch is refused.
    const refused = await complete(query, t.outbox.schema, outcomes, lease).then(() => null, (e: { code?: string }) => e);
    expect(refused?.code).toMatch(/^22/);
    const logged: string[] = [];
    await writeOutcomes(query, t.outbox.schema, outcomes, lease, { ...quiet, error: (m: string) => void logged.push(m) });
    const byId = new Map((await t.outbox.listEvents({ limit: 10 })).events.map((e) => [e.data as { i: number }, e]));
    const got = [...byId.values()].sort((a, b) => (a.data as { i: number }).i - (b.data as { i: number }).i);
    expect(got.map((e) => e.status)).toEqual(["published", "failed", "published"]);
    expect(got[1].lastError).toBe(UNSTORABLE_ERROR);
    expect(got[1].deliveries[0]).toMatchObject({ status: "failed", lastError: UNSTORABLE_ERROR });
    expect(logged.length).toBeGreaterThan(0);
    expect(published).toHaveLength(3);
  });
});

describe("guarantee 2: an outcome write that keeps failing is retried until it lands, and said loudly", () => {
  it("warns for the first tries, logs an error from the fifth on (every event held is being redelivered), then writes", async () => {
    t = await testOutbox();
    const query = toQuery(t.sql);
    await t.outbox.publishEvents([1, 2].map((i) => ({ type: "x", source: "s", data: { i } })));
    const lease = crypto.randomUUID();
    const rows = (await claim(query, t.outbox.schema, 10, lease, 60_000)).rows;
    const outcomes = rows.map(delivered);
    const said: Array<[level: string, message: string, attempt: unknown]> = [];
    const logger = {
      ...quiet,
      warn: (m: string, f?: Record<string, unknown>) => void said.push(["warn", m, f?.attempt]),
      error: (m: string, f?: Record<string, unknown>) => void said.push(["error", m, f?.attempt]),
    };
    const writer = new OutcomeWriter({ query, schema: t.outbox.schema, logger, lease, onFailed: null, stopping: () => false, wake() {}, deadlineMs: 5000 });
    // The table out of reach: every try fails, and not for a value in it (so row by row would not help).
    await t.sql.unsafe(`alter table "${t.schema}".events rename to events_away`);
    const written = writer.write(outcomes);
    await waitFor(() => said.some(([level]) => level === "error"), "the writer to log an error", 20_000);
    await t.sql.unsafe(`alter table "${t.schema}".events_away rename to events`);
    await written;
    expect(said.slice(0, 5)).toEqual([
      ...[1, 2, 3, 4].map((n) => ["warn", "completing failed; retrying", n]),
      ["error", "completing failed; retrying", 5],
    ]);
    const back = await Promise.all(rows.map((r) => t.outbox.getEvent(r.id)));
    expect(back.map((e) => e?.status)).toEqual(["published", "published"]);
  }, 30_000);
});

/** Values a handler can throw that break a naive `String(err)` or `err.message`. */
function throwers(): Record<string, () => unknown> {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const badMessage = new Error("x");
  Object.defineProperty(badMessage, "message", { get() { throw new Error("no message for you"); } });
  const symbolMessage = new Error("x");
  Object.defineProperty(symbolMessage, "message", { value: Symbol("s") });
  const objectMessage = new Error("x");
  Object.defineProperty(objectMessage, "message", { value: { nested: true } });
  return {
    nullProto: () => Object.create(null),
    throwingToString: () => ({ toString() { throw new Error("nope"); } }),
    throwingMessage: () => badMessage,
    symbolMessage: () => symbolMessage,
    objectMessage: () => objectMessage,
    revokedProxy: () => proxy,
    nul: () => new Error("bad\u0000byte"),
    cutPair: () => new Error("a".repeat(1999) + "\u{1F600}" + "b".repeat(10)),
    loneSurrogate: () => new Error("half \uD800 a pair"),
  };
}

describe("guarantee 3 and 9: a handler that throws anything fails its own delivery only", () => {
  it("records every hostile throw as a failed delivery with a storable string, and delivers the healthy sibling once", async () => {
    t = await testOutbox();
    const healthy = new Map<string, number>();
    const calls = new Map<string, number>();
    const kinds = throwers();
    for (const [name, make] of Object.entries(kinds)) {
      t.outbox.register("hostile", () => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        throw make();
      }, { name });
    }
    t.outbox.register("hostile", (e) => void healthy.set(e.id, (healthy.get(e.id) ?? 0) + 1), { name: "healthy" });
    worker = t.outbox.worker({ retention: false, leaseMs: 2000, handlerTimeoutMs: 1000 });
    await worker.start();
    const events = await t.outbox.publishEvents(Array.from({ length: 5 }, () => ({ type: "hostile", source: "s", maxRetries: 0 })));
    const done = await waitFor(async () => {
      const list = await Promise.all(events.map((e) => t.outbox.getEvent(e.id)));
      return list.every((e) => e?.status === "failed") ? list : null;
    }, "every hostile event to be recorded as failed");
    for (const e of done) {
      const byName = new Map(e!.deliveries.map((d) => [d.name, d]));
      expect(byName.get("healthy")).toMatchObject({ status: "delivered", attempts: 1 });
      for (const name of Object.keys(kinds)) {
        const d = byName.get(name)!;
        expect(d.status).toBe("failed");
        expect(typeof d.lastError).toBe("string");
        expect(d.lastError!.length).toBeGreaterThan(0);
        expect(d.lastError).not.toMatch(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
      }
      expect(byName.get("objectMessage")!.lastError).toBe("Error");
      expect(byName.get("nul")!.lastError).toBe("bad\uFFFDbyte");
      expect(byName.get("cutPair")!.lastError).toBe("a".repeat(1999) + "…");
    }
    // Nothing was redelivered: each hostile handler ran once per event, the healthy one once per event.
    for (const name of Object.keys(kinds)) expect(calls.get(name)).toBe(events.length);
    expect([...healthy.values()]).toEqual(events.map(() => 1));
    summary("hostile-values", { throwers: Object.keys(kinds).length, events: events.length, redelivered: 0 });
  });

  it("calls destinations named like Object.prototype members, and records them", async () => {
    t = await testOutbox();
    const called: string[] = [];
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      t.outbox.register("proto", () => void called.push(name), { name });
    }
    worker = t.outbox.worker({ retention: false });
    await worker.start();
    const e = await t.outbox.publishEvent({ type: "proto", source: "s" });
    const done = await waitFor(async () => {
      const x = await t.outbox.getEvent(e.id);
      return x?.status === "published" ? x : null;
    }, "the event to be published");
    expect(called.sort()).toEqual(["__proto__", "constructor", "hasOwnProperty", "toString"]);
    expect(done.deliveries.map((d) => [d.name, d.status]).sort()).toEqual(
      [["__proto__", "delivered"], ["constructor", "delivered"], ["hasOwnProperty", "delivered"], ["toString", "delivered"]],
    );
  });
});

describe("guarantee 9: a publish PostgreSQL would refuse is refused first, as a DispatchError, and changes nothing", () => {
  const NUL = "a\u0000b";
  const LONE = "a\uD800b";
  it("refuses NUL and lone surrogates in every string, over-long attributes and data nested too deep", async () => {
    t = await testOutbox();
    const count = async (): Promise<number> => (await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`))[0].n;
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const cases: Array<[string, Record<string, unknown>]> = [];
    for (const bad of [NUL, LONE]) {
      cases.push(
        ["id", { id: bad }], ["source", { source: bad }], ["type", { type: bad }], ["subject", { subject: bad }],
        ["extensions.ext", { extensions: { ext: bad } }], ["orderingKey", { orderingKey: bad }],
        ["data.text", { data: { text: bad } }], ["data", { data: { [bad]: 1 } }],
      );
    }
    cases.push(
      ["id", { id: "i".repeat(1025) }], ["source", { source: "s".repeat(1025) }], ["type", { type: "t".repeat(1025) }],
      ["id", { id: "\u00e9".repeat(600) }], ["subject", { subject: "x".repeat(4097) }],
      ["orderingKey", { orderingKey: "\u00e9".repeat(600) }], ["extensions.ext", { extensions: { ext: "x".repeat(4097) } }],
    );
    const before = await count();
    for (const [field, input] of cases) {
      const event = { type: "t", source: "s", ...input };
      for (const publish of [() => t.outbox.publishEvent(event as never), () => t.outbox.publishEvents([{ type: "ok", source: "s" }, event as never])]) {
        const err = await publish().then(() => null, (e: unknown) => e);
        expect(err, `${field}: ${JSON.stringify(input).slice(0, 80)}`).toBeInstanceOf(DispatchError);
        expect((err as DispatchError).field, `${field}: ${(err as Error).message}`).toMatch(new RegExp(`^(\\[1\\]\\.)?${field.split(".")[0]}`));
        expect((err as DispatchError).message).not.toMatch(/\u0000/);
      }
    }
    const err = await t.outbox.publishEvent({ type: "t", source: "s", data: deep }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).message).toMatch(/nested deeper than 256 levels/);
    expect(await count()).toBe(before);
    // At the limits, everything is stored and reads back the same.
    const edge = await t.outbox.publishEvent({ type: "t".repeat(1024), source: "s".repeat(1024), id: "\u00e9".repeat(512), orderingKey: "k".repeat(1024), data: { emoji: "\u{1F600}" } });
    const back = await t.outbox.getEvent(edge.id, { source: edge.source });
    expect(back).toMatchObject({ id: "\u00e9".repeat(512), type: "t".repeat(1024), data: { emoji: "\u{1F600}" } });
    summary("hostile-publish", { refused: cases.length * 2 + 1, rowsChanged: 0 });
  });
});
