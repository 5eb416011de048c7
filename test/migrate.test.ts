import { afterAll, describe, expect, it } from "vitest";
import { Outbox } from "../mod.ts";
import { migrations } from "../src/migrations/index.ts";
import { connect, schemaName } from "./support/db.ts";

const sql = connect({ max: 8 });
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await sql.unsafe(`drop schema if exists "${s}" cascade`);
  await sql.end();
});

describe("migrations: versioned, idempotent, safe from many processes at once", () => {
  it("applies every migration once, then nothing", async () => {
    const schema = schemaName("m");
    schemas.push(schema);
    const outbox = new Outbox({ sql, schema });
    expect(await outbox.migrate()).toEqual(migrations.map((m) => m.version));
    expect(await outbox.migrate()).toEqual([]);
    const [{ n }] = await sql.unsafe(`select count(*)::int as n from "${schema}".migrations`);
    expect(n).toBe(migrations.length);
  });

  it("lets six processes migrate the same fresh schema at the same time", async () => {
    const schema = schemaName("m");
    schemas.push(schema);
    const clients = Array.from({ length: 6 }, () => connect({ max: 1 }));
    try {
      const results = await Promise.all(clients.map((c) => new Outbox({ sql: c, schema }).migrate()));
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
      const outbox = new Outbox({ sql, schema });
      expect((await outbox.publishEvent({ type: "t", source: "s" })).status).toBe("pending");
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("creates the indexes the claim query and status look-ups rely on", async () => {
    const schema = schemaName("m");
    schemas.push(schema);
    await new Outbox({ sql, schema }).migrate();
    const rows = await sql.unsafe(`select indexname from pg_indexes where schemaname = $1 order by indexname`, [schema]);
    expect(rows.map((r) => r.indexname)).toEqual(expect.arrayContaining(["events_due", "events_id_source", "events_ordering", "events_failed"]));
    // events_due serves every read of unfinished events; a second index of the same rows only made publishing dearer.
    expect(rows.map((r) => r.indexname)).not.toContain("events_unfinished");
  });

  it("sets autovacuum to keep up with the events and attempts tables (2% dead, no cost-based naps)", async () => {
    const schema = schemaName("m");
    schemas.push(schema);
    await new Outbox({ sql, schema }).migrate();
    const rows = await sql.unsafe(
      `select c.relname, c.reloptions from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname in ('events', 'attempts') order by c.relname`,
      [schema],
    );
    const expected = [
      "autovacuum_vacuum_scale_factor=0.02", "autovacuum_vacuum_threshold=1000", "autovacuum_vacuum_insert_scale_factor=0.02",
      "autovacuum_analyze_scale_factor=0.02", "autovacuum_vacuum_cost_delay=0",
    ];
    expect(rows.map((r) => r.relname)).toEqual(["attempts", "events"]);
    for (const r of rows) expect(r.reloptions, r.relname).toEqual(expect.arrayContaining(expected));
  });
});
