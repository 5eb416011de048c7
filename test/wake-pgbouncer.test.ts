// Workers behind PgBouncer in transaction pooling mode, where LISTEN cannot work: the pooled server connection that
// ran LISTEN is handed to other clients. With a direct listenUrl the worker is instant; without one it finds out
// at start (its own NOTIFY never arrives), says so, and polls. PgBouncer passes no replication connections either:
// a logical worker needs the listenUrl for its WAL stream, and says so when it has none.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedServer } from "../examples/embedded-postgres.ts";
import { type DeliveredEvent, DispatchError, type LogFields, Outbox, type Worker } from "../mod.ts";
import { databaseUrl, schemaName, waitFor } from "./support/db.ts";
import { startLogicalPostgres } from "./support/logical.ts";
import { type Bouncer, havePgBouncer, startPgBouncer } from "./support/pgbouncer.ts";

const run = havePgBouncer();

/** Publishes 20 events, each in a transaction of its own through PgBouncer, and waits for `seen` to hold just them. */
async function publishAndDeliver(sql: Sql, outbox: Outbox, seen: DeliveredEvent[], what: string): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    await sql.begin(async (tx) => {
      ids.push((await outbox.publishEvent({ type: "bounced", source: "pgbouncer", data: { i } }, { tx })).id);
    });
  }
  await waitFor(() => seen.length === 20, what, 5000);
  expect(seen.map((e) => e.id).sort()).toEqual(ids.sort());
}

describe.skipIf(!run)("workers behind PgBouncer (transaction pooling)", () => {
  let bouncer: Bouncer;
  let sql: Sql;
  const schema = schemaName("bouncer");
  const workers: Worker[] = [];
  const warnings: Array<[string, LogFields | undefined]> = [];
  const logger = { debug() {}, info() {}, warn: (m: string, f?: LogFields) => void warnings.push([m, f]), error() {} };

  beforeAll(async () => {
    bouncer = await startPgBouncer();
    // Prepared statements do not survive transaction pooling in PgBouncer 1.18.
    sql = postgres(bouncer.url, { max: 4, prepare: false, onnotice: () => {} });
    await new Outbox({ sql, schema, logger }).migrate();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await sql?.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql?.end({ timeout: 1 });
    await bouncer?.stop();
  });

  async function started(outbox: Outbox): Promise<{ worker: Worker; seen: DeliveredEvent[] }> {
    const seen: DeliveredEvent[] = [];
    outbox.register("*", (event) => void seen.push(event));
    const worker = outbox.worker({ sweepIntervalMs: 600_000 });
    workers.push(worker);
    await worker.start();
    return { worker, seen };
  }

  it("publishes through PgBouncer and delivers at once with a direct listen connection", async () => {
    const outbox = new Outbox({ sql, schema, logger, listenUrl: databaseUrl() });
    const { worker, seen } = await started(outbox);
    expect(worker.wake).toBe("notify");
    expect(warnings).toEqual([]);
    await publishAndDeliver(sql, outbox, seen, "every event through PgBouncer to be delivered");
    await worker.stop();
  });

  it("without listenUrl, notices that LISTEN does not work, warns, and delivers by polling within a second", async () => {
    warnings.length = 0;
    const outbox = new Outbox({ sql, schema, logger });
    const { worker, seen } = await started(outbox);
    expect(worker.wake).toBe("poll");
    expect(warnings.map(([m]) => m).join("\n")).toMatch(/LISTEN does not work on this connection.*listenUrl/s);
    const e = await outbox.publishEvent({ type: "polled", source: "pgbouncer" });
    await waitFor(() => seen.some((s) => s.id === e.id), "the event to be found by polling", 1000);
    await worker.stop();
  });
});

describe.skipIf(!run)("wake: \"logical\" behind PgBouncer (transaction pooling)", () => {
  let server: EmbeddedServer;
  let bouncer: Bouncer;
  let sql: Sql;
  const schema = schemaName("bouncerwal");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const workers: Worker[] = [];

  beforeAll(async () => {
    server = await startLogicalPostgres();
    bouncer = await startPgBouncer(server.url);
    sql = postgres(bouncer.url, { max: 4, prepare: false, onnotice: () => {} });
    await new Outbox({ sql, schema, logger: quiet }).migrate();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await sql?.end({ timeout: 1 });
    await bouncer?.stop();
    await server?.stop();
  });

  it("without listenUrl, refuses to start and says to give it a direct connection", async () => {
    const outbox = new Outbox({ sql, schema, wake: "logical", logger: quiet });
    outbox.register("*", () => {});
    const worker = outbox.worker({ sweepIntervalMs: 600_000 });
    const err = await worker.start().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(DispatchError);
    expect((err as DispatchError).code).toBe("logical_unavailable");
    expect((err as Error).message).toMatch(/listenUrl/);
    expect(worker.running).toBe(false);
  });

  it("with a direct listenUrl, publishes through PgBouncer and delivers from the WAL", async () => {
    const outbox = new Outbox({ sql, schema, wake: "logical", logger: quiet, listenUrl: server.url });
    const seen: DeliveredEvent[] = [];
    outbox.register("*", (event) => void seen.push(event));
    const worker = outbox.worker({ sweepIntervalMs: 600_000 });
    workers.push(worker);
    await worker.start();
    expect(worker.wake).toBe("logical");
    await publishAndDeliver(sql, outbox, seen, "every event to be delivered from the WAL");
  });
});
