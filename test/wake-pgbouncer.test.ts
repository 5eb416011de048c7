// Workers behind PgBouncer in transaction pooling mode, where LISTEN cannot work: the pooled server connection that
// ran LISTEN is handed to other clients. With a direct listenUrl the worker is instant; without one it finds out
// at start (its own NOTIFY never arrives), says so, and polls.
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeliveredEvent, type LogFields, Outbox, type Worker } from "../mod.ts";
import { databaseUrl, schemaName, waitFor } from "./support/db.ts";
import { type Bouncer, havePgBouncer, startPgBouncer } from "./support/pgbouncer.ts";

const run = havePgBouncer();

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
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      await sql.begin(async (tx) => {
        ids.push((await outbox.publishEvent({ type: "bounced", source: "pgbouncer", data: { i } }, { tx })).id);
      });
    }
    await waitFor(() => seen.length === 20, "every event through PgBouncer to be delivered", 5000);
    expect(seen.map((e) => e.id).sort()).toEqual(ids.sort());
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
