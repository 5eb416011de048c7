// The real CLI, built and run as a child process, as `npx pg-dispatch` runs it: node dist/src/cli.js.
// The worker round trip also runs on Bun and Deno from the .ts sources.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type EventRecord, PermanentError } from "../mod.ts";
import { migrations } from "../src/migrations/index.ts";
import { BIN, CLI, cli, finished, json, ROOT, start } from "./support/cli.ts";
import { connect, schemaName, type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

const postgresUrl = pathToFileURL(join(ROOT, "node_modules/postgres/src/index.js")).href;
const modUrl = pathToFileURL(join(ROOT, "dist/mod.js")).href;

/** A config module as a user writes one: it builds the Outbox, registers handlers, and exports it. */
let configs = 0;
function configModule(dir: string, schema: string, log: string, body?: string): string {
  const file = join(dir, `dispatch-${++configs}.config.mjs`);
  writeFileSync(
    file,
    `import { appendFileSync } from "node:fs";
import postgres from ${JSON.stringify(postgresUrl)};
import { Outbox } from ${JSON.stringify(modUrl)};

const sql = postgres(process.env.DATABASE_URL, { onnotice: () => {} });
export const outbox = new Outbox({ sql, schema: ${JSON.stringify(schema)} });
${body ?? `outbox.register("cli.test", function record(event) {
  appendFileSync(${JSON.stringify(log)}, event.id + "\\n");
});`}
`,
  );
  return file;
}

let dir: string;

beforeAll(async () => {
  expect(existsSync(CLI)).toBe(true); // built by the global setup
  dir = mkdtempSync(join(tmpdir(), "pg-dispatch-cli-"));
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("migrate creates the outbox tables in a fresh schema", () => {
  const schema = schemaName("cli");
  const sql = connect();
  afterAll(async () => {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end();
  });

  test("applies the migrations once, then finds nothing to do", async () => {
    const first = await cli(["migrate", "--schema", schema]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const versions = migrations.map((m) => m.version).join(", ");
    expect(first.stdout).toContain(`Applied migration${migrations.length > 1 ? "s" : ""} ${versions} to schema "${schema}"`);
    const [row] = await sql`select to_regclass(${`"${schema}".events`}) is not null as ready`;
    expect(row.ready).toBe(true);

    expect(json<{ schema: string; applied: number[] }>(await cli(["migrate", "--schema", schema, "--json"]))).toEqual({
      schema,
      applied: [],
    });
  });

  test("docs/cli.md's migrate session is what a fresh database prints, command by command", async () => {
    const doc = readFileSync(join(ROOT, "docs/cli.md"), "utf8");
    const session = /### `pg-dispatch migrate`[\s\S]*?\n```\n([\s\S]*?)\n```/.exec(doc)![1];
    const steps = session.split(/^\$ /m).filter(Boolean).map((step) => {
      const [command, ...output] = step.split("\n");
      return { command, output: output.join("\n").trim() };
    });
    expect(steps.length).toBeGreaterThan(1);
    const fresh = schemaName("cli_doc");
    try {
      for (const { command, output } of steps) {
        const args = command.replace(/^pg-dispatch /, "").split(" ");
        const result = await cli([...args, "--schema", fresh]);
        expect(result.code, command).toBe(0);
        expect(result.stdout.trim().replaceAll(`"${fresh}"`, '"dispatch"'), command).toBe(output);
      }
    } finally {
      await sql.unsafe(`drop schema if exists "${fresh}" cascade`);
    }
  });

  test("the other commands say to migrate first when the tables are missing", async () => {
    const run = await cli(["stats", "--schema", schemaName("cli_none")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/outbox tables are missing .* run pg-dispatch migrate first, or point this command at the schema your outbox uses \(--schema <name>, or --config <module>\)/);
  });
});

describe("worker delivers with the config module's destinations and stops gracefully on SIGTERM", () => {
  let t: TestOutbox;
  beforeAll(async () => (t = await testOutbox()));
  afterAll(async () => await t.drop());

  const runtimes: [string, string[]][] = [
    ["node (built)", ["node", CLI]],
    ["bun", [join(BIN, "bun"), join(ROOT, "src/cli.ts")]],
    ["deno", [join(BIN, "deno"), "run", "-A", join(ROOT, "src/cli.ts")]],
  ];
  test.each(runtimes)("%s", async (_name, command) => {
    const log = join(dir, `delivered-${_name.split(" ")[0]}.txt`);
    const config = configModule(dir, t.schema, log);
    const worker = finished(start(command, ["worker", "--config", config, "--concurrency", "4", "--log-level", "info"]));
    try {
      await waitFor(() => worker.output().includes("worker started") || worker.child.exitCode !== null, "worker start", 20_000);
      expect(worker.child.exitCode, worker.output()).toBe(null);
      const event = await t.outbox.publishEvent({ type: "cli.test", source: "cli", data: { n: 1 } });
      await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes(event.id), "the handler to run", 10_000);
      await waitFor(async () => (await t.outbox.getEvent(event.id))?.status === "published", "published status");

      worker.child.kill("SIGTERM");
      const run = await worker;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe("");
      const lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
      expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["worker started", "stopping", "worker stopped"]));
      expect(lines.at(-1)?.msg).toBe("worker stopped");
    } finally {
      if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    }
  }, 60_000);

  test("passes the config module's onDeliveryFailed export to the worker, and refuses one that is not a function", async () => {
    const log = join(dir, "failed-for-good.txt");
    const config = configModule(dir, t.schema, log, `import { PermanentError } from ${JSON.stringify(modUrl)};
outbox.register("cli.doomed", function refuser() {
  throw new PermanentError("refused for good");
});
export function onDeliveryFailed(f) {
  appendFileSync(${JSON.stringify(log)}, f.event.id + " " + f.destination + " " + f.error + "\\n");
}`);
    const worker = finished(start(["node", CLI], ["worker", "--config", config, "--log-level", "info"]));
    try {
      await waitFor(() => worker.output().includes("worker started") || worker.child.exitCode !== null, "worker start", 20_000);
      expect(worker.child.exitCode, worker.output()).toBe(null);
      const event = await t.outbox.publishEvent({ type: "cli.doomed", source: "cli" });
      await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes(event.id), "onDeliveryFailed to run", 10_000);
      expect(readFileSync(log, "utf8")).toBe(`${event.id} refuser refused for good\n`);
      worker.child.kill("SIGTERM");
      expect((await worker).code).toBe(0);
    } finally {
      if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    }
    const wrong = configModule(dir, t.schema, log, `outbox.register("x", () => {});\nexport const onDeliveryFailed = "page me";`);
    const run = await cli(["worker", "--config", wrong]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/exports onDeliveryFailed, but as string: export a function/);
  }, 60_000);

  test("refuses a config that registers no destinations (it would mark every event published)", async () => {
    const config = configModule(dir, t.schema, "", "// nothing registered");
    const run = await cli(["worker", "--config", config]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/registers no destinations/);
  });
});

describe("status, events, retry and stats show what the database holds", () => {
  let t: TestOutbox;
  let ok: EventRecord;
  let bad: EventRecord;
  let args: string[];

  beforeAll(async () => {
    t = await testOutbox();
    args = ["--schema", t.schema];
    t.outbox.register("cli.ok", function audit() {});
    t.outbox.register("cli.bad", function mailer() {
      throw new PermanentError("SMTP refused the message");
    });
    ok = await t.outbox.publishEvent({ type: "cli.ok", source: "shop", data: { n: 1 } });
    bad = await t.outbox.publishEvent({ type: "cli.bad", source: "shop", data: { n: 2 } });
    const worker = t.outbox.worker();
    await worker.start();
    await waitFor(async () => (await t.outbox.getEvent(bad.id))?.status === "failed", "the failing event to fail");
    await waitFor(async () => (await t.outbox.getEvent(ok.id))?.status === "published", "the good event to publish");
    await worker.stop();
  });
  afterAll(async () => await t.drop());

  test("status <id> shows the event and each delivery", async () => {
    const human = await cli(["status", bad.id, ...args]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`id:\\s+${bad.id}`));
    expect(human.stdout).toMatch(/status:\s+failed/);
    expect(human.stdout).toMatch(/DESTINATION\s+STATUS\s+ATTEMPTS/);
    expect(human.stdout).toMatch(/mailer\s+failed\s+1\s+-\s+SMTP refused the message/);
    // The attempt history, under the deliveries.
    const lines = human.stdout.trimEnd().split("\n");
    const at = lines.indexOf("Attempts:");
    expect(at, human.stdout).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^WHEN\s+DESTINATION\s+ATTEMPT\s+OUTCOME\s+STATUS\s+DURATION\s+ERROR$/);
    expect(lines[at + 2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(.+\)\s+mailer\s+1\s+failed\s+-\s+\d+ms\s+SMTP refused the message$/);
    expect(lines).toHaveLength(at + 3);

    const record = json<EventRecord>(await cli(["status", bad.id, ...args, "--json"]));
    const stored = (await t.outbox.getEvent(bad.id, { history: true }))!;
    expect(record.status).toBe(stored.status);
    expect(record.deliveries).toEqual(JSON.parse(JSON.stringify(stored.deliveries)));
    expect(record.history).toEqual(JSON.parse(JSON.stringify(stored.history)));
    expect(record.history).toMatchObject([{ destination: "mailer", attempt: 1, outcome: "failed", error: expect.stringContaining("SMTP refused") }]);

    const missing = await cli(["status", "no-such-id", ...args]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`pg-dispatch: No event with id "no-such-id".\n`);
  });

  test("events lists newest first, filters by status, and pages with a cursor", async () => {
    const human = await cli(["events", ...args]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+TYPE\s+SOURCE\s+STATUS\s+ATTEMPTS\s+CREATED\s+LAST ERROR$/);
    expect(lines[1]).toMatch(new RegExp(`^${bad.id}\\s+cli.bad\\s+shop\\s+failed\\s+1\\s.*mailer: SMTP refused`));
    expect(lines[2]).toMatch(new RegExp(`^${ok.id}\\s+cli.ok\\s+shop\\s+published\\s+1\\s.*-$`));

    const failed = json<{ events: EventRecord[] }>(await cli(["events", "--status", "failed", ...args, "--json"]));
    expect(failed.events.map((e) => e.id)).toEqual([bad.id]);

    const first = await cli(["events", "--limit", "1", ...args]);
    const next = first.stdout.match(/More: pg-dispatch (events .*)$/m);
    expect(next, first.stdout).not.toBe(null);
    const second = json<{ events: EventRecord[] }>(await cli([...next![1].split(" "), "--json"]));
    expect(second.events.map((e) => e.id)).toEqual([ok.id]);

    const byPrefix = json<{ events: EventRecord[] }>(await cli(["events", "--type-prefix", "cli.b", ...args, "--json"]));
    expect(byPrefix.events.map((e) => e.id)).toEqual([bad.id]);
    const firstOfPrefix = await cli(["events", "--type-prefix", "cli.", "--limit", "1", ...args]);
    const nextOfPrefix = firstOfPrefix.stdout.match(/More: pg-dispatch (events .*)$/m);
    expect(nextOfPrefix?.[1], firstOfPrefix.stdout).toContain("--type-prefix cli.");
    const secondOfPrefix = json<{ events: EventRecord[] }>(await cli([...nextOfPrefix![1].split(" "), "--json"]));
    expect(secondOfPrefix.events.map((e) => e.id)).toEqual([ok.id]);
    const both = await cli(["events", "--type", "cli.ok", "--type-prefix", "cli.", ...args]);
    expect([both.code, both.stderr]).toEqual([2, expect.stringContaining("Pass --type or --type-prefix, not both.")]);
  });

  test("retry <id> makes the failed delivery due again and says so", async () => {
    const human = await cli(["retry", bad.id, ...args]);
    expect(human.code).toBe(0);
    expect(human.stdout.trim()).toBe(`Retrying mailer for event ${bad.id}: due now.`);
    const after = (await t.outbox.getEvent(bad.id))!;
    expect(after.status).toBe("pending");
    // The attempt count goes on (it is what was tried); the fresh budget starts from it.
    expect(after.deliveries).toMatchObject([{ name: "mailer", status: "pending", attempts: 1 }]);

    const again = json<{ retried: string[]; event: EventRecord }>(await cli(["retry", bad.id, ...args, "--json"]));
    expect(again.retried).toEqual([]);
    expect(again.event.status).toBe("pending");
    expect((await cli(["retry", ok.id, ...args])).stdout).toMatch(/has no failed deliveries \(status published\); nothing to retry/);
  });

  test("stats counts by status, in words and in JSON", async () => {
    const expected = await t.outbox.stats();
    const stats = json<typeof expected>(await cli(["stats", ...args, "--json"]));
    expect({ ...stats, oldestDueAgeMs: 0 }).toEqual({ ...expected, oldestDueAgeMs: 0 });
    // docs/cli.md names every field, for whoever wires it into monitoring
    const section = readFileSync(join(ROOT, "docs/cli.md"), "utf8").split("### `pg-dispatch stats`")[1].split("\n### ")[0];
    const documented = /`--json` prints\s+`\{ ([^}]+) \}`/.exec(section)![1].split(", ");
    expect(documented.sort()).toEqual(Object.keys(stats).sort());
    const human = await cli(["stats", ...args]);
    expect(human.code).toBe(0);
    for (const status of ["pending", "processing", "published", "failed"] as const) {
      expect(human.stdout).toMatch(new RegExp(`^${status}:\\s+${stats[status]}$`, "m"));
    }
  });

  test("a config module serves the read commands too", async () => {
    const config = configModule(dir, t.schema, "");
    const stats = json<{ published: number }>(await cli(["stats", "--config", config, "--json"]));
    expect(stats.published).toBe((await t.outbox.stats()).published);
  });

  test("pause with a config module notes a name it does not register (a typo, most likely), and pauses it all the same", async () => {
    const config = configModule(dir, t.schema, "");
    try {
      const typo = await cli(["pause", "recrod", "--config", config]);
      expect(typo.code).toBe(0);
      expect(typo.stdout).toMatch(/^Paused recrod for every worker/);
      expect(typo.stderr).toBe(`Note: config module ${config} registers no destination named recrod (it registers record). ` +
        "If that is a typo, pg-dispatch resume recrod undoes it.\n");
      const right = await cli(["pause", "record", "--config", config, "--json"]);
      expect(right.stderr).toBe("");
      expect(JSON.parse(right.stdout)).toMatchObject({ destination: "record", paused: true });
      expect((await t.outbox.pausedDestinations()).map((d) => d.name)).toEqual(["record", "recrod"]);
    } finally {
      for (const name of ["recrod", "record"]) await t.outbox.resumeDestination(name);
    }
  });
});

describe("bad command lines exit 2 with the usage on stderr", () => {
  test.concurrent.for<[string[], RegExp, string]>([
    [["frobnicate"], /Unknown command "frobnicate"/, "Usage: pg-dispatch <command>"],
    [["events", "--colour", "red"], /Unknown option '--colour'/, "Usage: pg-dispatch events"],
    [["events", "--limit", "lots"], /--limit must be a whole number from 1 to 1000, got "lots"/, "Usage: pg-dispatch events"],
    [["events", "--status", "lost"], /--status must be one of pending, processing, published, failed/, "Usage: pg-dispatch events"],
    [["status"], /status needs <id>\. For the number of events in each status, run pg-dispatch stats\./, "Usage: pg-dispatch status"],
    [["retry", "a", "b"], /retry takes \[id\], got "a" "b"/, "Usage: pg-dispatch retry"],
    [["worker"], /worker needs --config <module>/, "Usage: pg-dispatch worker"],
    [["worker", "--config", "x.mjs", "--concurrency", "0"], /--concurrency must be a whole number from 1/, "Usage: pg-dispatch worker"],
    [["worker", "--config", "x.mjs", "--log-level", "loud"], /--log-level must be one of debug, info, warn, error/, "Usage: pg-dispatch worker"],
    [["stats", "--config", "x.mjs", "--database-url", "postgres://x"], /either --config, or --database-url/, "Usage: pg-dispatch stats"],
    [["stats", "--database-url", "mysql://db/app"], /--database-url must be a postgres:\/\/ URL/, "Usage: pg-dispatch stats"],
  ])("%j", async ([argv, message, usage], { expect }) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(usage);
  });

  test("a value the core refuses (a bad schema name) exits 2 without the full usage", async () => {
    const run = await cli(["stats", "--schema", "Bad-Name"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^pg-dispatch: Invalid schema name "Bad-Name".*\nSee pg-dispatch stats --help\.\n$/);
  });

  test("--help prints a command's usage on stdout and exits 0", async () => {
    const run = await cli(["worker", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("--handler-timeout-ms");
    const overview = await cli([]);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/^Usage: pg-dispatch <command>/);
  });
});

describe("an unreachable database or a broken config module fails at once with one clear line", () => {
  let closedUrl: string;
  beforeAll(async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    closedUrl = `postgres://postgres@127.0.0.1:${port}/test`;
  });

  test("--database-url on a closed port", async () => {
    const began = Date.now();
    const run = await cli(["stats", "--database-url", closedUrl]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^pg-dispatch: Cannot connect to the database \(postgres:\/\/postgres@127\.0\.0\.1:\d+\/test\): .*ECONNREFUSED.*\n$/);
    expect(Date.now() - began).toBeLessThan(10_000); // not postgres.js's 30 s default connect timeout
  });

  test("the worker, when its config module's database is down", async () => {
    const config = configModule(dir, schemaName("cli_down"), join(dir, "never.txt"));
    const run = await cli(["worker", "--config", config], { DATABASE_URL: closedUrl });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^pg-dispatch: Cannot connect to the database .*ECONNREFUSED/);
  });

  test("a missing config module, and one without an Outbox export", async () => {
    const missing = await cli(["worker", "--config", "no/such/config.mjs"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^pg-dispatch: Config module no\/such\/config\.mjs not found/);

    const file = join(dir, "not-an-outbox.mjs");
    writeFileSync(file, "export const settings = { concurrency: 4 };\n");
    const wrong = await cli(["worker", "--config", file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/must export the configured Outbox as default or as `outbox` \(its exports: settings\)/);
  });
});

describe("--version prints the package version on every runtime", () => {
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  const runtimes: [string, string[]][] = [
    ["node (built)", ["node", CLI]],
    ["bun", [join(BIN, "bun"), join(ROOT, "src/cli.ts")]],
    ["deno", [join(BIN, "deno"), "run", "-A", join(ROOT, "src/cli.ts")]],
  ];
  test.each(runtimes)("%s", async (_name, command) => {
    const run = await finished(start(command, ["--version"]));
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  }, 30_000);
});

describe("human output shows control characters escaped and a single event's error whole; JSON stays JSON", () => {
  let t: TestOutbox;
  let args: string[];
  // What a publisher or a receiver can put in the fields the CLI prints: a window title (OSC 0), a screen erase, a
  // C1 CSI, a forged line, and an OSC 52 clipboard write in an error.
  const id = "evil\u001b]0;pwned\u0007id";
  const type = "type\u001b[2J\u009b31m";
  const subject = "line one\nid:           forged";
  const long = `CRM answered 422: ${"the request was refused ".repeat(12)}end of line one`;
  const lastError = `mailer: ${long}\nsecond line \u001b]52;c;Y2xpcA==\u0007 end`;
  const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

  beforeAll(async () => {
    t = await testOutbox();
    args = ["--schema", t.schema];
    t.outbox.register("cli.bad", function mailer() {
      throw new PermanentError("refused");
    });
    const e = await t.outbox.publishEvent({ type: "cli.bad", source: "shop" });
    const worker = t.outbox.worker();
    await worker.start();
    await waitFor(async () => (await t.outbox.getEvent(e.id))?.status === "failed", "the event to fail");
    await worker.stop();
    // Stored as any publisher or receiver could have written them.
    await t.sql.unsafe(
      `update "${t.schema}".events set id = $1, type = $2, subject = $3, last_error = $4,
         deliveries = jsonb_set(deliveries, '{mailer,lastError}', to_jsonb($5::text)) where id = $6`,
      [id, type, subject, lastError, lastError.slice("mailer: ".length), e.id],
    );
    // A long history whose errors carry what a receiver can answer: 30 more attempts, as the worker appends them.
    await t.sql.unsafe(
      `insert into "${t.schema}".attempts (event_seq, destination, attempt, started_at, duration_ms, outcome, status, error)
       select seq, 'mailer', 1 + n, now() + n * interval '1 second', 1500 * n, 'retry', 503, $2
       from "${t.schema}".events, generate_series(1, 30) n where id = $1`,
      [id, `HTTP 503\n\u001b]52;c;Y2xpcA==\u0007 ${"x".repeat(200)}`],
    );
  });
  afterAll(async () => await t.drop());

  test("status <id>: every value escaped, the last error whole and line by line", async () => {
    const human = await cli(["status", id, ...args]);
    expect(human.stderr).toBe("");
    expect(human.code).toBe(0);
    expect(human.stdout).not.toMatch(RAW_CONTROL);
    const lines = human.stdout.split("\n");
    expect(lines[0]).toBe("id:           evil\\x1b]0;pwned\\x07id");
    expect(lines[1]).toBe("type:         type\\x1b[2J\\x9b31m");
    expect(lines).toContain("subject:      line one\\nid:           forged");
    expect(lines.filter((l) => l.startsWith("id:"))).toHaveLength(1);
    const at = lines.indexOf(`last error:   mailer: ${long}`);
    expect(at, human.stdout).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe(`${" ".repeat(14)}second line \\x1b]52;c;Y2xpcA==\\x07 end`);
    // The delivery's error, whole too, on its one line of the table.
    expect(human.stdout).toMatch(new RegExp(`mailer\\s+failed\\s+1\\s+-\\s+${long}`));
    // The history: the newest 20 of 31 attempts, each error escaped and cut to one line.
    const title = lines.indexOf("Attempts (the newest 20 of 31; --json has them all):");
    expect(title, human.stdout).toBeGreaterThan(0);
    const attempts = lines.slice(title + 2).filter(Boolean);
    expect(attempts).toHaveLength(20);
    expect(attempts[19]).toMatch(/\s+mailer\s+31\s+retry\s+503\s+45s\s+HTTP 503 \\x1b\]52;c;Y2xpcA==\\x07 x+…$/);

    const record = json<EventRecord>(await cli(["status", id, ...args, "--json"]));
    expect(record.history).toHaveLength(31);
    expect(record.history![30].error).toBe(`HTTP 503\n\u001b]52;c;Y2xpcA==\u0007 ${"x".repeat(200)}`);
    expect({ id: record.id, type: record.type, subject: record.subject, lastError: record.lastError }).toEqual({ id, type, subject, lastError });
  });

  test("events: escaped cells, the error cut in a list of many", async () => {
    const human = await cli(["events", ...args]);
    expect(human.code).toBe(0);
    expect(human.stdout).not.toMatch(RAW_CONTROL);
    const [header, row, ...rest] = human.stdout.trim().split("\n");
    expect(header).toMatch(/^ID\s+TYPE/);
    expect(rest).toEqual([]);
    expect(row).toMatch(/^evil\\x1b\]0;pwned\\x07id\s+type\\x1b\[2J\\x9b31m\s+shop\s+failed\s+1\s+.*\s+mailer: CRM answered 422: .{20,}…$/);
    const page = json<{ events: EventRecord[] }>(await cli(["events", ...args, "--json"]));
    expect(page.events.map((e) => [e.id, e.type, e.lastError])).toEqual([[id, type, lastError]]);
  });

  test("retry <id> names the event escaped", async () => {
    const human = await cli(["retry", id, ...args]);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe("Retrying mailer for event evil\\x1b]0;pwned\\x07id: due now.\n");
  });
});
