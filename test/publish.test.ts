import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloudEvent, DispatchError, Outbox } from "../mod.ts";
import { databaseUrl, testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox({ maxPayloadBytes: 10_000 });
  await t.sql.unsafe(`create table "${t.schema}".users (id serial primary key, name text not null)`);
});
afterAll(async () => {
  await t.drop();
});

async function count(): Promise<number> {
  const [r] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`);
  return r.n;
}

describe("atomic publish: the event exists iff the caller's transaction commits", () => {
  it("commits the event with the business row (postgres.js transaction)", async () => {
    const published = await t.sql.begin(async (tx) => {
      await tx.unsafe(`insert into "${t.schema}".users (name) values ('ada')`);
      return await t.outbox.publishEvent({ type: "user.created", source: "users", data: { name: "ada" } }, { tx });
    });
    const stored = await t.outbox.getEvent(published.id);
    expect(stored?.status).toBe("pending");
    expect(stored?.data).toEqual({ name: "ada" });
  });

  it("leaves no row when the transaction rolls back", async () => {
    const before = await count();
    let id = "";
    await expect(t.sql.begin(async (tx) => {
      await tx.unsafe(`insert into "${t.schema}".users (name) values ('grace')`);
      id = (await t.outbox.publishEvent({ type: "user.created", source: "users", data: { name: "grace" } }, { tx })).id;
      throw new Error("business rule failed");
    })).rejects.toThrow("business rule failed");
    expect(id).not.toBe("");
    expect(await t.outbox.getEvent(id)).toBeNull();
    expect(await count()).toBe(before);
  });

  it("joins a node-postgres transaction through its query(text, params)", async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      await client.query("begin");
      const kept = await t.outbox.publishEvent({ type: "pg.kept", source: "pg", data: 1 }, { tx: client });
      await client.query("commit");
      await client.query("begin");
      const dropped = await t.outbox.publishEvent({ type: "pg.dropped", source: "pg", data: 2 }, { tx: client });
      await client.query("rollback");
      expect((await t.outbox.getEvent(kept.id))?.type).toBe("pg.kept");
      expect(await t.outbox.getEvent(dropped.id)).toBeNull();
    } finally {
      await client.end();
    }
  });

  /** A separate session listening on the outbox's channel and a marker channel; `seen` lists what arrived. */
  async function listening(): Promise<{ seen: string[]; marked: () => Promise<void>; end: () => Promise<void> }> {
    const listener = new pg.Client({ connectionString: databaseUrl() });
    await listener.connect();
    const seen: string[] = [];
    listener.on("notification", (n) => seen.push(n.channel));
    await listener.query(`listen "${t.schema}"`);
    await listener.query(`listen "${t.schema}_marker"`);
    return {
      seen,
      // A marker sent after the commit: once it arrives, every notification sent before it has arrived.
      async marked() {
        await t.sql.unsafe(`select pg_notify('${t.schema}_marker', '')`);
        await waitFor(() => seen.includes(`${t.schema}_marker`), "the marker notification", 5000);
      },
      end: () => listener.end(),
    };
  }

  it("sends exactly one notification for a transaction that publishes many events", async () => {
    const { seen, marked, end } = await listening();
    try {
      await t.sql.begin(async (tx) => {
        await t.outbox.publishEvent({ type: "a", source: "n" }, { tx });
        await t.outbox.publishEvent({ type: "b", source: "n" }, { tx });
        await t.outbox.publishEvents([{ type: "c", source: "n" }, { type: "d", source: "n" }], { tx });
      });
      await marked();
      expect(seen.filter((c) => c === t.schema)).toHaveLength(1);
    } finally {
      await end();
    }
  });

  it("publishes without a notification when notify is false", async () => {
    const { seen, marked, end } = await listening();
    try {
      const events = await t.outbox.publishEvents([{ type: "bulk", source: "n" }], { notify: false });
      await marked();
      expect(seen).toEqual([`${t.schema}_marker`]);
      expect((await t.outbox.getEvent(events[0].id))?.status).toBe("pending");
    } finally {
      await end();
    }
  });
});

describe("publishing: every field of Django Dispatch's publish_event and publish_cloud_event", () => {
  it("stores the CloudEvent attributes, extensions and delivery options", async () => {
    const at = new Date(Date.now() + 3_600_000);
    const e = await t.outbox.publishEvent({
      type: "reminder.send",
      source: "reminder-service",
      id: "reminder-1",
      subject: "user 123",
      data: { user_id: 123, message: "Remember to complete your profile" },
      dataschema: "https://example.com/schemas/reminder.json",
      extensions: { traceparent: "00-abc-def-01", priority: 3 },
      scheduledAt: at,
      maxRetries: 5,
      orderingKey: "user-123",
    });
    expect(e).toMatchObject({
      id: "reminder-1",
      type: "reminder.send",
      source: "reminder-service",
      specversion: "1.0",
      subject: "user 123",
      datacontenttype: "application/json",
      dataschema: "https://example.com/schemas/reminder.json",
      extensions: { traceparent: "00-abc-def-01", priority: 3 },
      status: "pending",
      attempts: 0,
      maxRetries: 5,
      orderingKey: "user-123",
      lastError: null,
      deliveries: [],
    });
    expect(e.scheduledAt?.getTime()).toBe(at.getTime());
    expect(typeof e.time).toBe("string");
  });

  it("publishes a CloudEvent built with the SDK, with its extensions", async () => {
    const ce = new CloudEvent({ type: "order.completed", source: "order-service", data: { order_id: 456, total: 99.99 }, subject: "Order #456", tenant: "acme" });
    const e = await t.outbox.publishCloudEvent(ce, { maxRetries: 2 });
    expect(e).toMatchObject({ id: ce.id, type: "order.completed", subject: "Order #456", data: { order_id: 456, total: 99.99 }, extensions: { tenant: "acme" }, maxRetries: 2 });
    expect(e.time).toBe(ce.time);
  });

  it("publishes many events in one call, in order", async () => {
    const events = await t.outbox.publishEvents(Array.from({ length: 50 }, (_, i) => ({ type: "bulk.item", source: "bulk", id: `item-${i}`, data: { i } })));
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 50 }, (_, i) => `item-${i}`));
    expect(events[49].data).toEqual({ i: 49 });
  });
});

describe("idempotent publish: the same source + id stores one event", () => {
  it("returns the stored event the second time and stores nothing new", async () => {
    const first = await t.outbox.publishEvent({ type: "pay.captured", source: "payments", id: "pay-1", data: { amount: 1 } });
    const before = await count();
    const second = await t.outbox.publishEvent({ type: "pay.captured", source: "payments", id: "pay-1", data: { amount: 999 } });
    expect(await count()).toBe(before);
    expect(second.data).toEqual({ amount: 1 });
    expect(second.createdAt.getTime()).toBe(first.createdAt.getTime());
    const mixed = await t.outbox.publishEvents([
      { type: "pay.captured", source: "payments", id: "pay-1" },
      { type: "pay.captured", source: "payments", id: "pay-2", data: { amount: 2 } },
    ]);
    expect(mixed.map((e) => [e.id, e.data])).toEqual([["pay-1", { amount: 1 }], ["pay-2", { amount: 2 }]]);
    expect(await count()).toBe(before + 1);
  });

  it("a publish of its own tries the plain insert, and a repeat the insert that skips stored events; in a transaction, the latter at once", async () => {
    // The statements pg-dispatch sends, as postgres.js's debug hook sees them.
    const sent: string[] = [];
    const sql = postgres(databaseUrl(), { max: 2, onnotice: () => {}, debug: (_c, text) => void sent.push(text) });
    try {
      const outbox = new Outbox({ sql, schema: t.schema });
      const inserts = () => sent.filter((q) => /insert into \S+\.events/.test(q)).map((q) => (/on conflict/.test(q) ? "skip" : "plain"));
      await outbox.publishEvent({ type: "x", source: "plain", id: "p-1" });
      await outbox.publishEvents([{ type: "x", source: "plain", id: "p-2" }, { type: "x", source: "plain", id: "p-3", orderingKey: "k" }]);
      expect(inserts()).toEqual(["plain", "plain"]);
      sent.length = 0;
      const again = await outbox.publishEvent({ type: "x", source: "plain", id: "p-1", orderingKey: "k" });
      const batch = await outbox.publishEvents([{ type: "x", source: "plain", id: "p-4" }, { type: "x", source: "plain", id: "p-2" }]);
      expect(inserts()).toEqual(["plain", "skip", "plain", "skip"]);
      expect([again.duplicate, ...batch.map((e) => e.duplicate)]).toEqual([true, false, true]);
      sent.length = 0;
      // In the caller's transaction a failed statement would abort the caller's work: the repeat must not fail.
      await sql.begin(async (tx) => {
        const inTx = await outbox.publishEvent({ type: "x", source: "plain", id: "p-3" }, { tx });
        expect(inTx.duplicate).toBe(true);
        await tx.unsafe(`insert into "${t.schema}".users (name) values ('after a repeat')`);
      });
      expect(inserts()).toEqual(["skip"]);
      const [{ n }] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".users where name = 'after a repeat'`);
      expect(n).toBe(1);
      const [{ stored }] = await t.sql.unsafe(`select count(*)::int as stored from "${t.schema}".events where source = 'plain'`);
      expect(stored).toBe(4);
    } finally {
      await sql.end();
    }
  });

  it("on one connection, where a caller may have sent BEGIN by hand, a repeat never fails the caller's transaction", async () => {
    const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} });
    try {
      const outbox = new Outbox({ sql, schema: t.schema });
      await outbox.publishEvent({ type: "x", source: "one-connection", id: "o-1" });
      await sql.unsafe("begin");
      const again = await outbox.publishEvent({ type: "x", source: "one-connection", id: "o-1" });
      await sql.unsafe(`insert into "${t.schema}".users (name) values ('after a repeat on one connection')`);
      await sql.unsafe("commit");
      expect(again.duplicate).toBe(true);
      const [{ n }] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".users where name = 'after a repeat on one connection'`);
      expect(n).toBe(1);
    } finally {
      await sql.end();
    }
  });

  it("treats the same id from another source as another event", async () => {
    await t.outbox.publishEvent({ type: "x", source: "source-a", id: "shared-id" });
    await t.outbox.publishEvent({ type: "x", source: "source-b", id: "shared-id" });
    await expect(t.outbox.getEvent("shared-id")).rejects.toMatchObject({ code: "ambiguous_id" });
    expect((await t.outbox.getEvent("shared-id", { source: "source-b" }))?.source).toBe("source-b");
  });
});

describe("bad input is refused with a clear error and writes nothing", () => {
  class Money {
    constructor(readonly cents: number) {}
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: Array<[string, () => Promise<unknown>, string, RegExp]> = [
    ["a missing type", () => t.outbox.publishEvent({ source: "s" } as never), "invalid_event", /type/],
    ["an empty source", () => t.outbox.publishEvent({ type: "t", source: "" }), "invalid_event", /source/],
    ["a bad time", () => t.outbox.publishEvent({ type: "t", source: "s", time: "yesterday" }), "invalid_event", /time/],
    ["a bad extension name", () => t.outbox.publishEvent({ type: "t", source: "s", extensions: { "Trace-Id": "x" } }), "invalid_event", /Trace-Id/],
    ["an extension holding an object", () => t.outbox.publishEvent({ type: "t", source: "s", extensions: { deep: {} as never } }), "invalid_event", /deep/],
    ["a bigint in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: { n: 1n } }), "invalid_data", /data\.n/],
    ["a function in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: { f() {} } }), "invalid_data", /data\.f/],
    ["NaN in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: [1, Number.NaN] }), "invalid_data", /data\[1\]/],
    ["a class instance in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: { price: new Money(5) } }), "invalid_data", /Money/],
    ["a Map in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: new Map() }), "invalid_data", /Map/],
    ["a cycle in data", () => t.outbox.publishEvent({ type: "t", source: "s", data: cyclic }), "invalid_data", /cycle/],
    ["data over the limit", () => t.outbox.publishEvent({ type: "t", source: "s", data: "x".repeat(10_001) }), "payload_too_large", /10000-byte limit/],
    ["multi-byte data over the limit", () => t.outbox.publishEvent({ type: "t", source: "s", data: "é".repeat(5_000) }), "payload_too_large", /bytes/],
    ["an unknown event key", () => t.outbox.publishEvent({ type: "t", source: "s", event_type: "x" } as never), "invalid_option", /event_type/],
    ["an unknown publish option", () => t.outbox.publishEvent({ type: "t", source: "s" }, { transaction: t.sql } as never), "invalid_option", /transaction/],
    ["a bad scheduledAt", () => t.outbox.publishEvent({ type: "t", source: "s", scheduledAt: "soon" }), "invalid_option", /scheduledAt/],
    ["a negative maxRetries", () => t.outbox.publishEvent({ type: "t", source: "s", maxRetries: -1 }), "invalid_option", /maxRetries/],
    ["an empty orderingKey", () => t.outbox.publishEvent({ type: "t", source: "s", orderingKey: "" }), "invalid_option", /orderingKey/],
    ["a tx that is not a client", () => t.outbox.publishEvent({ type: "t", source: "s" }, { tx: {} as never }), "invalid_option", /tx/],
    ["binary CloudEvent data", () => t.outbox.publishCloudEvent(new CloudEvent({ type: "t", source: "s", data_base64: "AAEC" })), "invalid_data", /data_base64/],
    ["a bad event in a batch", () => t.outbox.publishEvents([{ type: "ok", source: "s" }, { type: "", source: "s" }]), "invalid_event", /type/],
    // The CloudEvents 1.0 attribute rules (src/attributes.ts), checked without building an SDK object per event.
    ["a source that is no URI-reference", () => t.outbox.publishEvent({ type: "t", source: "my service" }), "invalid_event", /source/],
    ["a relative dataschema", () => t.outbox.publishEvent({ type: "t", source: "s", dataschema: "schemas/user" }), "invalid_event", /dataschema/],
    ["a time without an offset", () => t.outbox.publishEvent({ type: "t", source: "s", time: "2025-01-02T03:04:05" }), "invalid_event", /time/],
    ["a time on February 30th", () => t.outbox.publishEvent({ type: "t", source: "s", time: "2025-02-30T03:04:05Z" }), "invalid_event", /time/],
    ["an empty subject", () => t.outbox.publishEvent({ type: "t", source: "s", subject: "" }), "invalid_event", /subject/],
    ["a type that is not a string", () => t.outbox.publishEvent({ type: 5 as never, source: "s" }), "invalid_event", /type/],
    ["a core attribute as an extension", () => t.outbox.publishEvent({ type: "t", source: "s", extensions: { subject: "x" } }), "invalid_event", /core attribute/],
    ["a fractional extension", () => t.outbox.publishEvent({ type: "t", source: "s", extensions: { n: 1.5 } }), "invalid_event", /integer/],
    ["a plain CloudEvent of another version", () => t.outbox.publishCloudEvent({ specversion: "0.3", type: "t", source: "s", id: "1" } as never), "invalid_event", /specversion/],
    ["a plain CloudEvent with a bad extension name", () => t.outbox.publishCloudEvent({ type: "t", source: "s", BadName: "x" } as never), "invalid_event", /BadName/],
    ["an unchecked CloudEvent with an empty type", () => t.outbox.publishCloudEvent(new CloudEvent({ type: "", source: "s" }, false)), "invalid_event", /type/],
  ];

  for (const [what, call, code, message] of cases) {
    it(`refuses ${what}`, async () => {
      const before = await count();
      const err = await call().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(DispatchError);
      expect(err).toMatchObject({ code });
      expect((err as Error).message).toMatch(message);
      expect(await count()).toBe(before);
    });
  }

  it("gives every record of a batch its own createdAt (the statement's time, one Date each)", async () => {
    const [a, b] = await t.outbox.publishEvents([{ type: "t", source: "s" }, { type: "t", source: "s" }]);
    expect(a.createdAt.getTime()).toBe(b.createdAt.getTime());
    expect(a.createdAt).not.toBe(b.createdAt);
  });

  it("counts attribute limits in UTF-8 bytes, as PostgreSQL stores the text", async () => {
    // 3-byte and 4-byte characters (a surrogate pair is 2 UTF-16 units, 4 bytes) right at the 4,096-byte subject limit.
    for (const [char, fits] of [["\u20ac", 1365], ["\u{1F600}", 1024], ["\u00e9", 2048]] as const) {
      const e = await t.outbox.publishEvent({ type: "t", source: "s", subject: char.repeat(fits) });
      expect(e.subject).toBe(char.repeat(fits));
      const err = await t.outbox.publishEvent({ type: "t", source: "s", subject: char.repeat(fits + 1) }).then(() => null, (x: unknown) => x);
      expect((err as DispatchError).field).toBe("subject");
      expect((err as DispatchError).message).toMatch(/over its 4096-byte limit/);
    }
  });

  it("accepts every attribute form CloudEvents 1.0 allows, from plain input and from the SDK's class", async () => {
    const sources = ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "/sensors/tn-1234567/alerts", "https://example.com/a?b=c#d", "1-555-123-4567", "a%20b"];
    for (const source of sources) {
      const e = await t.outbox.publishEvent({ type: "t", source, time: "2025-01-02T03:04:05.123+02:00", dataschema: "https://example.com/s.json", extensions: { n: 3, ok: true, tenant: "acme" } });
      expect(e).toMatchObject({ source, time: "2025-01-02T03:04:05.123+02:00", extensions: { n: 3, ok: true, tenant: "acme" } });
    }
    const ce = await t.outbox.publishCloudEvent(new CloudEvent({ type: "t", source: "/orders", subject: "Order #1", tenant: "acme", data: { a: 1 } }));
    expect(ce).toMatchObject({ specversion: "1.0", subject: "Order #1", extensions: { tenant: "acme" }, data: { a: 1 } });
    expect(ce.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("accepts data that JSON represents faithfully: Dates, nested arrays, unicode", async () => {
    const when = new Date("2026-01-02T03:04:05.000Z");
    const e = await t.outbox.publishEvent({ type: "t", source: "s", data: { when, nested: [[1], { a: null }], text: "héllo ✓", skip: undefined } });
    expect(e.data).toEqual({ when: "2026-01-02T03:04:05.000Z", nested: [[1], { a: null }], text: "héllo ✓" });
  });

  it("refuses bad outbox options and schema names", () => {
    for (const bad of ["Dispatch", "1abc", "a-b", "pg_catalog", "x".repeat(64), 'a"; drop table x; --']) {
      expect(() => new Outbox({ sql: t.sql, schema: bad })).toThrow(/Invalid schema name/);
    }
    expect(() => new Outbox({ sql: t.sql, schemaName: "x" } as never)).toThrow(/Unknown option "schemaName"/);
    expect(() => new Outbox({} as never)).toThrow(/needs \{ sql \}/);
    expect(() => new Outbox({ sql: t.sql, logger: console.log as never })).toThrow(/logger must have debug, info, warn and error/);
    expect(() => new Outbox({ sql: t.sql, retry: { maxRetries: -1 } })).toThrow(/retry.maxRetries/);
    expect(() => new Outbox({ sql: t.sql, retry: { backoff: 2 } as never })).toThrow(/Unknown option "backoff"/);
  });
});

describe("errors name the field they are about", () => {
  it("sets DispatchError.field for attributes, data paths, extensions, options and batch elements", async () => {
    const field = (p: Promise<unknown>) => p.then(() => "no error", (e: DispatchError) => e.field);
    expect(await field(t.outbox.publishEvent({ type: "", source: "s" }))).toBe("type");
    expect(await field(t.outbox.publishEvent({ source: "s" } as never))).toBe("type");
    expect(await field(t.outbox.publishEvent({ type: "t", source: "s", id: "" }))).toBe("id");
    expect(await field(t.outbox.publishEvent({ type: "t", source: "s", data: { user: { id: 1n } } }))).toBe("data.user.id");
    expect(await field(t.outbox.publishEvent({ type: "t", source: "s", extensions: { Bad: "x" } }))).toBe("extensions.Bad");
    expect(await field(t.outbox.publishEvent({ type: "t", source: "s", maxRetries: 1.5 }))).toBe("maxRetries");
    expect(await field(t.outbox.publishEvents([{ type: "t", source: "s" }, { type: "t", source: "s", time: "x" }]))).toBe("[1].time");
    expect(await field(t.outbox.listEvents({ limit: 0 }))).toBe("limit");
  });

  it("says whether a publish was a repeat", async () => {
    const first = await t.outbox.publishEvent({ type: "t", source: "dup", id: "d-1" });
    const again = await t.outbox.publishEvent({ type: "t", source: "dup", id: "d-1" });
    expect([first.duplicate, again.duplicate]).toEqual([false, true]);
    const batch = await t.outbox.publishEvents([{ type: "t", source: "dup", id: "d-1" }, { type: "t", source: "dup", id: "d-2" }]);
    expect(batch.map((e) => e.duplicate)).toEqual([true, false]);
  });
});

describe("what publish returns is what is stored", () => {
  it("returns the same record getEvent reads back, for one event and for a batch", async () => {
    const one = await t.outbox.publishEvent({
      type: "full.event", source: "records", subject: "s", data: { nested: [1, "two", null], when: new Date(0) },
      dataschema: "https://example.com/s.json", extensions: { tenant: "acme", level: 2 }, maxRetries: 3,
      orderingKey: "k", scheduledAt: new Date(Date.now() + 60_000),
    });
    const { duplicate, ...stored } = one;
    expect(duplicate).toBe(false);
    expect(stored).toEqual(await t.outbox.getEvent(one.id, { source: "records" }));
    const many = await t.outbox.publishEvents([{ type: "a", source: "records" }, { type: "b", source: "records", data: "text" }]);
    for (const e of many) {
      const { duplicate: d, ...rest } = e;
      expect(d).toBe(false);
      expect(rest).toEqual(await t.outbox.getEvent(e.id, { source: "records" }));
    }
  });

  it("stores a batch's text exactly: quotes, backslashes, braces, commas, NULL as a word, empty strings", async () => {
    const tricky = ['say "hi"', "back\\slash", "{braces}", "a,b", "NULL", "", "ünï ✓", "line\nbreak", "\\\"\\"];
    const many = await t.outbox.publishEvents(tricky.map((s, i) => ({
      type: `t${i}`, source: "records", id: `id-${i}-${s}`, subject: `subject ${s}`, data: { s, list: [s, null] },
      extensions: { note: s }, orderingKey: `k${s}`,
    })));
    for (const [i, e] of many.entries()) {
      const { duplicate, ...rest } = e;
      expect(duplicate).toBe(false);
      expect(rest).toMatchObject({ id: `id-${i}-${tricky[i]}`, subject: `subject ${tricky[i]}`, extensions: { note: tricky[i] }, orderingKey: `k${tricky[i]}`, data: { s: tricky[i], list: [tricky[i], null] } });
      expect(rest).toEqual(await t.outbox.getEvent(e.id, { source: e.source }));
    }
  });

  it("stores each event of a batch as given when only some set the optional attributes (the rest stay empty)", async () => {
    // A call writes only the columns some event sets: the events that leave one out must still store it empty, and
    // those that set it their own value, in a batch as in a single publish.
    const at = new Date(Date.now() + 60_000);
    const full = {
      subject: "s", dataschema: "https://example.com/s.json", extensions: { tenant: "acme" }, data: { n: 1 },
      scheduledAt: at, maxRetries: 2, orderingKey: "mixed-k",
    };
    for (const attribute of Object.keys(full) as Array<keyof typeof full>) {
      const many = await t.outbox.publishEvents([
        { type: "mixed", source: "mixed" },
        { type: "mixed", source: "mixed", [attribute]: full[attribute] },
        { type: "mixed", source: "mixed" },
      ]);
      for (const e of many) {
        const { duplicate, ...rest } = e;
        expect(duplicate).toBe(false);
        expect(rest).toEqual(await t.outbox.getEvent(e.id, { source: "mixed" }));
      }
      const [bare, set] = many;
      expect(bare).toMatchObject({
        specversion: "1.0", subject: null, dataschema: null, extensions: {}, data: undefined, scheduledAt: null, maxRetries: null, orderingKey: null,
      });
      const [{ due }] = await t.sql.unsafe(`select next_attempt_at as due from "${t.schema}".events where id = $1`, [set.id]);
      expect(due.getTime()).toBe(attribute === "scheduledAt" ? at.getTime() : set.createdAt.getTime());
      expect(set[attribute]).toEqual(full[attribute]);
    }
  });

  it("stores one event when a batch repeats a source + id, and marks the repeat", async () => {
    const batch = await t.outbox.publishEvents([
      { type: "x", source: "twice", id: "same", data: 1 },
      { type: "x", source: "twice", id: "same", data: 2 },
    ]);
    expect(batch.map((e) => [e.duplicate, e.data])).toEqual([[false, 1], [true, 1]]);
    const [{ n }] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events where source = 'twice'`);
    expect(n).toBe(1);
  });
});
