// The logical wake-up mode: publish only inserts, and the worker follows the WAL through a temporary logical slot.
// It needs wal_level=logical, which the machine's server does not have, so this file starts a PostgreSQL of its own.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedServer } from "../examples/embedded-postgres.ts";
import { startLogicalPostgres } from "./support/logical.ts";
import { type DeliveredEvent, DispatchError, Outbox, type Worker } from "../mod.ts";
import { schemaName, waitFor } from "./support/db.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("wake: \"logical\" follows the WAL", () => {
  let server: EmbeddedServer;
  let sql: Sql;
  const workers: Worker[] = [];

  beforeAll(async () => {
    server = await startLogicalPostgres();
    sql = postgres(server.url, { max: 4, onnotice: () => {} });
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await sql?.end({ timeout: 1 });
    await server?.stop();
  });

  async function started(schema: string, url = server.url): Promise<{ outbox: Outbox; worker: Worker; seen: DeliveredEvent[]; sql: Sql }> {
    const own = url === server.url ? sql : postgres(url, { max: 4, onnotice: () => {} });
    const outbox = new Outbox({ sql: own, schema, wake: "logical", logger: quiet });
    const seen: DeliveredEvent[] = [];
    outbox.register("*", (event) => void seen.push(event));
    const worker = outbox.worker({ sweepIntervalMs: 600_000 });
    try {
      await worker.start();
    } catch (err) {
      if (own !== sql) await own.end({ timeout: 1 });
      throw err;
    }
    workers.push(worker);
    return { outbox, worker, seen, sql: own };
  }

  async function slots(): Promise<number> {
    const [{ n }] = await sql`select count(*)::int as n from pg_replication_slots where slot_name like 'pg_dispatch_%'`;
    return n;
  }

  it("delivers committed events at once with the safety sweep minutes away, and keeps only a temporary slot", async () => {
    const schema = schemaName("logical");
    await new Outbox({ sql, schema, logger: quiet }).migrate();
    const { outbox, worker, seen } = await started(schema);
    expect(worker.wake).toBe("logical");
    const [pub] = await sql`select pubinsert, pubupdate from pg_publication where pubname = ${schema}`;
    expect(pub).toEqual({ pubinsert: true, pubupdate: false });
    const [slot] = await sql`select temporary, active from pg_replication_slots where slot_name like 'pg_dispatch_%'`;
    expect(slot).toEqual({ temporary: true, active: true });

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      await sql.begin(async (tx) => {
        ids.push((await outbox.publishEvent({ type: "walked", source: "wal", data: { i } }, { tx })).id);
      });
    }
    await outbox.publishEvents(Array.from({ length: 30 }, (_, i) => ({ type: "bulk", source: "wal", data: { i } })));
    await waitFor(() => seen.length === 50, "every event to be delivered from the WAL", 5000);
    expect(seen.filter((e) => e.type === "walked").map((e) => e.id).sort()).toEqual(ids.sort());

    await worker.stop();
    // The slot goes with its connection: a stopped (or dead) worker pins no WAL.
    await waitFor(async () => (await slots()) === 0, "the temporary slot to be gone", 5000);
  });

  it("delivers an event retried by hand at once (an update, which the WAL stream does not announce)", async () => {
    const schema = schemaName("logical");
    await new Outbox({ sql, schema, logger: quiet }).migrate();
    const outbox = new Outbox({ sql, schema, wake: "logical", logger: quiet, retry: { maxRetries: 0 } });
    let fail = true;
    const seen: string[] = [];
    outbox.register("*", (event) => {
      if (fail) throw new Error("not yet");
      seen.push(event.id);
    });
    const worker = outbox.worker({ sweepIntervalMs: 600_000 });
    workers.push(worker);
    await worker.start();
    const e = await outbox.publishEvent({ type: "retried", source: "wal" });
    await waitFor(async () => (await outbox.getEvent(e.id))?.status === "failed", "the event to fail", 5000);
    fail = false;
    await outbox.retryEvent(e.id);
    await waitFor(() => seen.includes(e.id), "the retried event to be delivered", 5000);
    await worker.stop();
  });

  it("refuses a role without REPLICATION, naming the fix", async () => {
    const schema = schemaName("logical");
    await new Outbox({ sql, schema, logger: quiet }).migrate();
    const role = `${schema}_app`;
    await sql.unsafe(`create role "${role}" login password 'app'`);
    await sql.unsafe(`grant usage on schema "${schema}" to "${role}"; grant select, update on "${schema}".events to "${role}"`);
    await sql.unsafe(`create publication "${schema}" for table "${schema}".events with (publish = 'insert')`);
    const url = new URL(server.url);
    url.username = role;
    url.password = "app";
    const err = await started(schema, url.href).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).code).toBe("logical_unavailable");
    expect((err as Error).message).toMatch(/ALTER ROLE <role> REPLICATION/);
    expect(await slots()).toBe(0);
  });
});
