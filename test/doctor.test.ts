// pg-dispatch doctor: each problem is created for real on the shared server (and undone), then seen reported with
// its fix, through the library's checks and the real CLI. Nothing here changes the shared server's settings: sessions,
// slots and table options are this file's own and are dropped at the end. What needs a server setting (a small
// notification queue) is done on an embedded server of the file's own.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatFindings } from "../src/cli/doctor.ts";
import { diagnose, type Finding } from "../src/doctor/diagnose.ts";
import { schema } from "../src/schema.ts";
import { startEmbeddedPostgres } from "../examples/embedded-postgres.ts";
import { closedPort } from "./support/brokers.ts";
import { cli, ROOT, type Run } from "./support/cli.ts";
import { connect, databaseUrl, testOutbox, type TestOutbox, waitFor } from "./support/db.ts";
import { havePgBouncer, startPgBouncer } from "./support/pgbouncer.ts";
import { Outbox } from "../mod.ts";

let t: TestOutbox;
let args: string[];
beforeAll(async () => {
  t = await testOutbox();
  args = ["--schema", t.schema];
});
afterAll(async () => await t.drop());

function of(findings: Finding[], check: string): Finding[] {
  return findings.filter((f) => f.check === check);
}

/** The findings of a `doctor --json` run, which exits with 1 when anything is wrong. */
function report(run: Run): { ok: boolean; findings: Finding[] } {
  expect(run.stderr).toBe("");
  const parsed = JSON.parse(run.stdout) as { ok: boolean; findings: Finding[] };
  expect(run.code).toBe(parsed.ok ? 0 : 1);
  return parsed;
}

describe("autovacuum: off for the server, off or too lax for an outbox table", () => {
  it("reports the server setting as it is, with the fix", async () => {
    const [{ autovacuum }] = await t.sql`select current_setting('autovacuum') as autovacuum`;
    const server = of(await diagnose(t.outbox), "autovacuum").filter((f) => f.details?.setting === "autovacuum");
    if (autovacuum === "off") {
      // This machine's server runs with autovacuum off: the check is naturally wrong here.
      expect(server).toMatchObject([{ ok: false, severity: "error", message: expect.stringContaining("autovacuum = off") }]);
      expect(server[0].fix).toContain("ALTER SYSTEM SET autovacuum = on");
      expect(server[0].fix).toContain(`VACUUM (ANALYZE) "${t.schema}"."attempts"`);
      expect(server[0].fix).toContain(`"${t.schema}"."events"`);
    } else {
      expect(server).toEqual([]);
    }
  });

  it("reports a table with autovacuum_enabled = false and one whose threshold is too lax", async () => {
    await t.sql.unsafe(`alter table "${t.schema}".events set (autovacuum_enabled = false)`);
    await t.sql.unsafe(`alter table "${t.schema}".attempts set (autovacuum_vacuum_threshold = 1000000)`);
    try {
      const tables = of(await diagnose(t.outbox), "autovacuum").filter((f) => f.details?.table);
      expect(tables).toMatchObject([
        { ok: false, severity: "warning", details: { table: "attempts", threshold: 1000000, deadRowsBeforeVacuum: 1000000 } },
        { ok: false, severity: "error", details: { table: "events", autovacuum_enabled: "false" }, fix: `ALTER TABLE "${t.schema}"."events" RESET (autovacuum_enabled);` },
      ]);
      expect(tables[0].message).toMatch(/^Autovacuum is too lax for .*"attempts": with about 0 rows it waits for 1000000 dead rows/);
      expect(tables[0].fix).toContain(`ALTER TABLE "${t.schema}"."attempts" SET (autovacuum_vacuum_scale_factor = 0.02`);
    } finally {
      await t.sql.unsafe(`alter table "${t.schema}".events reset (autovacuum_enabled)`);
      await t.sql.unsafe(`alter table "${t.schema}".attempts reset (autovacuum_vacuum_threshold)`);
    }
    expect(of(await diagnose(t.outbox), "autovacuum").filter((f) => f.details?.table)).toEqual([]);
  });
});

describe("transactions: a session idle in transaction holds the xmin horizon", () => {
  it("is reported past --max-transaction-age with its pid and the fix, and no longer once it ends", async () => {
    const other = connect({ max: 1 });
    const session = await other.reserve();
    try {
      await session.unsafe("begin");
      const [{ pid }] = await session.unsafe("select pg_backend_pid() as pid, txid_current()");
      await waitFor(async () => {
        const [row] = await t.sql`select now() - xact_start > interval '1 second' as old from pg_stat_activity where pid = ${pid}`;
        return row?.old === true;
      }, "the transaction to be a second old");
      const run = report(await cli(["doctor", ...args, "--max-transaction-age", "1s", "--json"]));
      expect(run.ok).toBe(false);
      const mine = of(run.findings, "transactions").find((f) => f.details?.pid === pid);
      expect(mine).toMatchObject({ ok: false, severity: "error", details: { state: "idle in transaction", xidAge: expect.any(Number) } });
      expect(mine!.message).toMatch(new RegExp(`^Session ${pid} .* has been idle in transaction for \\d+s?.*, holding the xmin horizon \\d+ transactions back`));
      expect(mine!.fix).toContain(`SELECT pg_terminate_backend(${pid});`);
      expect(mine!.fix).toContain("idle_in_transaction_session_timeout");

      // The same in words, escaped, with the fix on the line under it.
      const human = await cli(["doctor", ...args, "--max-transaction-age", "1s"]);
      expect(human.code).toBe(1);
      const lines = human.stdout.split("\n");
      const at = lines.findIndex((l) => l.startsWith("ERROR") && l.includes(`Session ${pid} `));
      expect(at, human.stdout).toBeGreaterThan(0);
      expect(lines[at + 1]).toMatch(new RegExp(`^\\s+fix: Commit or roll back .*pg_terminate_backend\\(${pid}\\)`));
      expect(human.stdout).toMatch(/\n\d+ problems? found \(\d+ errors?, \d+ warnings?\)\.\n$/);

      await session.unsafe("rollback");
      const after = await diagnose(t.outbox, { maxTransactionAgeMs: 1000 });
      expect(of(after, "transactions").some((f) => f.details?.pid === pid)).toBe(false);
    } finally {
      session.release();
      await other.end({ timeout: 1 });
    }
  });

  it("reports a long transaction that is still running, with the cancel to run", async () => {
    const other = connect({ max: 1 });
    const session = await other.reserve();
    try {
      await session.unsafe("begin");
      const [{ pid }] = await session.unsafe("select pg_backend_pid() as pid, txid_current()");
      const running = session.unsafe("select pg_sleep(4)").catch(() => {});
      await waitFor(async () => {
        const [row] = await t.sql`select state = 'active' and now() - xact_start > interval '1 second' as old from pg_stat_activity where pid = ${pid}`;
        return row?.old === true;
      }, "the transaction to be running for a second");
      const mine = of(await diagnose(t.outbox, { maxTransactionAgeMs: 1000 }), "transactions").find((f) => f.details?.pid === pid);
      expect(mine).toMatchObject({ ok: false, severity: "error", details: { state: "active" } });
      expect(mine!.message).toMatch(new RegExp(`^Session ${pid} .* has been in one transaction for \\d+s?.* \\(active\\), holding the xmin horizon \\d+ transactions back`));
      expect(mine!.fix).toContain(`SELECT pg_cancel_backend(${pid});`);
      await t.sql`select pg_cancel_backend(${pid})`;
      await running;
      await session.unsafe("rollback");
    } finally {
      session.release();
      await other.end({ timeout: 1 });
    }
  });

  it("says all is well under the default age, naming the oldest open transaction", async () => {
    const findings = of(await diagnose(t.outbox, { maxTransactionAgeMs: 86_400_000 }), "transactions");
    expect(findings[0]).toMatchObject({ ok: true, severity: "info", fix: null, message: expect.stringMatching(/^No transaction older than 1d/) });
  });
});

describe("replication slots: a slot with no consumer", () => {
  it("is reported with the WAL it keeps and the command that drops it", async () => {
    const name = `doctor_${Math.random().toString(36).slice(2, 10)}`;
    await t.sql`select pg_create_physical_replication_slot(${name}, true)`;
    try {
      const run = report(await cli(["doctor", ...args, "--json"]));
      const mine = of(run.findings, "replication-slots").find((f) => f.details?.slot === name);
      expect(mine).toMatchObject({ ok: false, severity: "warning", details: { type: "physical", active: false, retainedWalBytes: expect.any(Number) } });
      expect(mine!.message).toContain(`Replication slot "${name}" (physical) has no consumer connected and holds`);
      expect(mine!.fix).toContain(`SELECT pg_drop_replication_slot('${name}');`);
    } finally {
      await t.sql`select pg_drop_replication_slot(${name})`;
    }
    expect(of(await diagnose(t.outbox), "replication-slots").some((f) => f.details?.slot === name)).toBe(false);
  });
});

describe("migrations: pending and unknown versions", () => {
  it("reports a migration the schema lacks, and one this version does not know", async () => {
    const [removed] = await t.sql.unsafe(`delete from "${t.schema}".migrations where version = 5 returning version, name`);
    await t.sql.unsafe(`insert into "${t.schema}".migrations (version, name) values (999, 'from_the_future')`);
    try {
      const run = report(await cli(["doctor", ...args, "--json"]));
      expect(run.ok).toBe(false);
      const found = of(run.findings, "migrations");
      expect(found).toMatchObject([
        { ok: false, severity: "error", details: { pending: [5], unknown: [999] }, message: expect.stringContaining("lacks migration 5 (lease_expiries)") },
        { ok: false, severity: "warning", message: expect.stringContaining("does not know (999)") },
      ]);
      expect(found[0].fix).toContain(`pg-dispatch migrate --schema ${t.schema}`);
    } finally {
      await t.sql.unsafe(`delete from "${t.schema}".migrations where version = 999`);
      await t.sql.unsafe(`insert into "${t.schema}".migrations (version, name) values ($1, $2)`, [removed.version, removed.name]);
    }
    expect(of(await diagnose(t.outbox), "migrations")).toMatchObject([{ ok: true, details: { pending: [], unknown: [] } }]);
  });

  it("reports a schema never migrated instead of refusing to run", async () => {
    const run = report(await cli(["doctor", "--schema", "doctor_never_migrated", "--json"]));
    expect(of(run.findings, "migrations")).toMatchObject([{ ok: false, severity: "error", message: expect.stringContaining("has no outbox tables") }]);
    // The other checks say nothing of tables that are not there: no fix names one, no table is said to be healthy.
    expect(of(run.findings, "bloat")).toEqual([expect.objectContaining({ ok: true, message: 'Schema "doctor_never_migrated" has no outbox tables to measure yet.' })]);
    for (const f of run.findings) expect(`${f.message} ${f.fix ?? ""}`, f.check).not.toMatch(/"doctor_never_migrated"\.(events|attempts)/);
  });
});

describe("bloat: dead rows in the events table", () => {
  it("reports the dead rows an update leaves behind, with the vacuum to run", async () => {
    const s = `"${t.schema}"`;
    const session = await t.sql.reserve();
    try {
      await session.unsafe(`insert into ${s}.events (id, source, type) select 'b' || n, 'bloat', 'bloat.test' from generate_series(1, 5000) n`);
      await session.unsafe(`update ${s}.events set attempts = attempts + 1 where source = 'bloat'`);
      // Statistics reach the shared view about once a second; PostgreSQL 15 can be asked to flush at the next commit.
      const [{ flush }] = await session.unsafe(`select to_regproc('pg_stat_force_next_flush') is not null as flush`);
      if (flush) await session.unsafe(`select pg_stat_force_next_flush()`);
      await session.unsafe(`select 1`);
    } finally {
      session.release();
    }
    await waitFor(async () => {
      const [row] = await t.sql`select n_dead_tup from pg_stat_user_tables where schemaname = ${t.schema} and relname = 'events'`;
      return Number(row?.n_dead_tup) >= 5000;
    }, "the dead rows to reach the statistics");
    const found = of(await diagnose(t.outbox), "bloat").find((f) => f.details?.table === "events");
    expect(found).toMatchObject({ ok: false, details: { live: 5000, dead: expect.any(Number) } });
    expect(found!.details!.dead).toBeGreaterThanOrEqual(5000);
    expect(found!.message).toMatch(new RegExp(`^"${t.schema}"."events" holds \\d+ dead rows beside 5000 live ones \\(50% dead`));
    expect(found!.fix).toContain(`VACUUM (ANALYZE) "${t.schema}"."events";`);
    await t.sql.unsafe(`delete from ${s}.events where source = 'bloat'`);
    await t.sql.unsafe(`vacuum ${s}.events`);
  });
});

describe("notification queue, pooler and wake-up mode", () => {
  it("reports the notification queue's usage, and a direct connection's LISTEN as working", async () => {
    const port = Number(new URL(databaseUrl()).port || 5432);
    const findings = await diagnose(t.outbox);
    const [queue] = of(findings, "notification-queue");
    expect(queue).toMatchObject({ ok: true, details: { usage: expect.any(Number) }, message: expect.stringMatching(/^The notification queue is [\d.]+% full\.$/) });
    expect(queue.details!.usage).toBeGreaterThanOrEqual(0);
    expect(queue.details!.usage).toBeLessThan(1);
    expect(of(findings, "pooler")).toMatchObject([{
      ok: true,
      message: expect.stringMatching(/^LISTEN\/NOTIFY works: a notification from another connection arrived in \d+ ms\.$/),
      // Direct: the port dialled is the server's own (5432 here, a random one for the embedded server).
      details: { middleman: null, dialledPort: port, serverPort: port },
    }]);
    expect(of(findings, "wake")).toMatchObject([{ ok: true, details: { wake: "notify" } }]);
  });

  it("says what wake: \"logical\" needs when the Outbox has that mode, and skips the LISTEN probe", async () => {
    const [{ wal_level }] = await t.sql`select current_setting('wal_level') as wal_level`;
    const findings = await diagnose({ sql: t.sql, schema: t.outbox.schema, wake: "logical" });
    const wake = of(findings, "wake");
    if (wal_level === "logical") {
      expect(wake.some((f) => String(f.message).includes("wal_level"))).toBe(false);
    } else {
      expect(wake).toContainEqual(expect.objectContaining({
        ok: false,
        severity: "error",
        message: expect.stringContaining(`this server runs with wal_level = ${wal_level}`),
        fix: expect.stringContaining("ALTER SYSTEM SET wal_level = logical"),
      }));
    }
    expect(of(findings, "pooler")).toMatchObject([{ ok: true, details: { wake: "logical" } }]);
    expect(of(await diagnose({ sql: t.sql, schema: t.outbox.schema, wake: "poll" }), "wake")).toMatchObject([{ ok: true }]);
  });
});

describe("a listenUrl nothing answers on", () => {
  it("is an error that says the worker would not start, names the cause and shows no password", async () => {
    const port = await closedPort();
    const listenUrl = `postgres://postgres:s3cret-pw@127.0.0.1:${port}/test`;
    const outbox = new Outbox({ sql: t.sql, schema: t.schema, listenUrl });
    const [finding] = of(await diagnose(outbox, { listenTimeoutMs: 1000 }), "pooler");
    expect(finding).toMatchObject({
      ok: false,
      severity: "error",
      message: expect.stringMatching(new RegExp(`^The worker's listenUrl cannot be reached \\(.*ECONNREFUSED.*${port}.*\\): a worker of this outbox does not start`)),
      fix: expect.stringContaining("check its host, port"),
    });
    expect(JSON.stringify(finding)).not.toContain("s3cret-pw");
    // What the finding says of the worker holds: it refuses to start.
    outbox.register("doctor.listen-url", () => {});
    await expect(outbox.worker().start()).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("a listenUrl the driver cannot parse (a raw # in the password)", () => {
  it("is an error naming listenUrl and the fix, as an unreachable one is, since the worker does not start either", async () => {
    const listenUrl = "postgres://postgres:s3cret#pw@127.0.0.1:5432/test";
    const outbox = new Outbox({ sql: t.sql, schema: t.schema, listenUrl });
    const [finding] = of(await diagnose(outbox, { listenTimeoutMs: 1000 }), "pooler");
    expect(finding).toMatchObject({
      ok: false,
      severity: "error",
      message: expect.stringMatching(/^The worker's listenUrl cannot be reached \(.*Invalid URL.*\): a worker of this outbox does not start/),
      fix: expect.stringContaining("percent-encode"),
    });
    expect(JSON.stringify(finding)).not.toContain("s3cret");
    outbox.register("doctor.listen-url-parse", () => {});
    await expect(outbox.worker().start()).rejects.toThrow(/Invalid URL/);
  });
});

describe.skipIf(!havePgBouncer())("a pooler in transaction mode in front (a real PgBouncer)", () => {
  it("reports that LISTEN does not work through it, with the fix; a direct listenUrl is what the worker uses and works", async () => {
    const bouncer = await startPgBouncer();
    const pooled = postgres(bouncer.url, { max: 2, prepare: false, onnotice: () => {} });
    try {
      const through = new Outbox({ sql: pooled, schema: t.schema });
      const [broken] = of(await diagnose(through, { listenTimeoutMs: 1000 }), "pooler");
      expect(broken).toMatchObject({
        ok: false,
        severity: "error",
        message: expect.stringMatching(/^LISTEN does not work on this connection: a notification sent from another connection did not arrive within 1000 ms; a pooler in transaction or statement mode sits in front \(port \d+ answered, PostgreSQL listens on \d+\)/),
        fix: expect.stringContaining("pool_mode = session"),
      });
      // Publishers on the pool, the worker's LISTEN on a direct connection: the setup the fix recommends.
      const direct = new Outbox({ sql: pooled, schema: t.schema, listenUrl: databaseUrl() });
      const [fine] = of(await diagnose(direct, { listenTimeoutMs: 1000 }), "pooler");
      expect(fine).toMatchObject({ ok: true, message: expect.stringMatching(/^LISTEN\/NOTIFY works on the worker's listenUrl connection: a notification from another connection arrived in \d+ ms\.$/) });
      expect(JSON.stringify(fine)).not.toContain(databaseUrl());
    } finally {
      await pooled.end({ timeout: 1 });
      await bouncer.stop();
    }
  });
});

describe("the wake-up mode comes from the config module's Outbox", () => {
  it("checks what wake: \"logical\" needs when the exported Outbox carries that mode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-dispatch-doctor-"));
    try {
      const config = join(dir, "dispatch.config.mjs");
      writeFileSync(config, `import postgres from ${JSON.stringify(pathToFileURL(join(ROOT, "node_modules/postgres/src/index.js")).href)};
import { Outbox } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/mod.js")).href)};
export const outbox = new Outbox({ sql: postgres(process.env.DATABASE_URL, { onnotice: () => {} }), schema: ${JSON.stringify(t.schema)}, wake: "logical" });
`);
      const [{ wal_level }] = await t.sql`select current_setting('wal_level') as wal_level`;
      const run = report(await cli(["doctor", "--config", config, "--json"]));
      expect(of(run.findings, "pooler")).toMatchObject([{ ok: true, details: { wake: "logical" } }]);
      expect(of(run.findings, "wake").some((f) => !f.ok && f.message.includes(`wal_level = ${wal_level}`))).toBe(wal_level !== "logical");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the report", () => {
  it("escapes control characters in what it prints, worst first, fixes under their problems", () => {
    const text = formatFindings([
      { check: "bloat", ok: true, severity: "info", message: "fine", fix: null },
      { check: "transactions", ok: false, severity: "error", message: "Session 7 (application \"\u001b]0;pwned\u0007\")", fix: "SELECT 1;\nrm -rf" },
      { check: "pooler", ok: false, severity: "warning", message: "slow", fix: "wait" },
    ], "schema \"x\"");
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text.split("\n")).toEqual([
      `pg-dispatch doctor: schema "x"`,
      "",
      `ERROR   transactions  Session 7 (application "\\x1b]0;pwned\\x07")`,
      `                      fix: SELECT 1;\\nrm -rf`,
      "WARNING pooler        slow",
      "                      fix: wait",
      "ok      bloat         fine",
      "",
      "2 problems found (1 error, 1 warning).",
    ]);
  });

  it("refuses a --max-transaction-age that is not a duration, with exit 2", async () => {
    const run = await cli(["doctor", ...args, "--max-transaction-age", "soon"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^pg-dispatch: --max-transaction-age must be a duration such as 30s, 5m or 1h/);
  });
});

describe("a server of the test's own (embedded PostgreSQL: autovacuum on, pgstattuple available)", () => {
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    expect((await cli(["migrate", "--database-url", server.url])).code).toBe(0);
  }, 60_000);
  afterAll(async () => await server?.stop());

  it("exits 0 with \"No problems found.\" when all is well", async () => {
    const human = await cli(["doctor", "--database-url", server.url]);
    expect(human.stderr).toBe("");
    expect(human.stdout).toMatch(/\nNo problems found\.\n$/);
    expect(human.stdout).not.toMatch(/^(ERROR|WARNING)/m);
    expect(human.code).toBe(0);
    const run = report(await cli(["doctor", "--database-url", server.url, "--json"]));
    expect(run.ok).toBe(true);
    expect(new Set(run.findings.map((f) => f.check))).toEqual(
      new Set(["migrations", "autovacuum", "transactions", "replication-slots", "notification-queue", "wake", "pooler", "bloat"]),
    );
  });

  it("measures free space and index density with pgstattuple when it is installed", async () => {
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe("create extension pgstattuple");
      // 200,000 events, 4 in 5 deleted and vacuumed: the space is reusable, but the files and index leaves stay sparse.
      await sql.unsafe(`insert into dispatch.events (id, source, type) select md5(n::text), 'bloat', 'bloat.test' from generate_series(1, 200000) n`);
      await sql.unsafe(`delete from dispatch.events where seq % 5 <> 0`);
      await sql.unsafe(`vacuum dispatch.events`);
      const outbox = { sql, schema: schema("dispatch") };
      const found = of(await diagnose(outbox), "bloat");
      expect(found).toContainEqual(expect.objectContaining({
        ok: false,
        severity: "warning",
        details: expect.objectContaining({ table: "events", freePercent: expect.any(Number) }),
        fix: expect.stringContaining('VACUUM FULL "dispatch"."events"'),
      }));
      expect(found).toContainEqual(expect.objectContaining({
        ok: false,
        details: expect.objectContaining({ index: "events_id_source", leafDensity: expect.any(Number) }),
        fix: 'REINDEX INDEX CONCURRENTLY "dispatch"."events_id_source";',
      }));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);

  it("reports a notification queue filling behind a session that LISTENs inside an open transaction", async () => {
    // A queue of 64 pages (512 KB) instead of 8 GB, so that a test can fill a third of it; a server setting, hence
    // this server and a restart.
    const admin = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      await admin`alter system set max_notify_queue_pages = 64`;
    } finally {
      await admin.end({ timeout: 1 });
    }
    await server.restart();
    const stuck = postgres(server.url, { max: 1, onnotice: () => {} });
    const sender = postgres(server.url, { max: 1, onnotice: () => {} });
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      await stuck.unsafe("listen doctor_stuck");
      let inside = false;
      const transaction = stuck.begin(async (tx) => {
        await tx`select 1`;
        inside = true;
        await held; // a listener inside a transaction consumes nothing until it ends
      });
      await waitFor(() => inside, "the listener to be inside its transaction");
      for (let i = 0; i < 24; i++) await sender`select pg_notify('doctor_stuck', ${"x".repeat(7000)})`;
      const found = of(await diagnose({ sql: sender, schema: schema("dispatch") }), "notification-queue");
      expect(found).toEqual([expect.objectContaining({
        ok: false,
        severity: "warning",
        message: expect.stringMatching(/^The notification queue is \d+\.\d% full: a listening session is not consuming/),
        fix: expect.stringContaining("pg_terminate_backend"),
      })]);
      expect(found[0].details!.usage).toBeGreaterThan(0.1);
      const run = report(await cli(["doctor", "--database-url", server.url, "--json"]));
      expect(run.ok).toBe(false);
      expect(of(run.findings, "notification-queue")).toEqual([expect.objectContaining({ ok: false, severity: "warning" })]);
      release();
      await transaction;
    } finally {
      release();
      await Promise.all([stuck.end({ timeout: 1 }), sender.end({ timeout: 1 })]);
    }
  }, 60_000);
});
