// Scenario 7, bad input at the CLI door: the built `pg-dispatch` binary (node dist/src/cli.js) is fed unknown event
// ids, huge and negative limits, garbage cursors and cursors past bigint, bad statuses, SQL-looking ids, types, sources
// and schema names, database URLs with passwords and terminal escapes where an id goes, and unknown flags. Each exits
// non-zero (2: the command line is wrong, 1: no such event) with one clear line on stderr (passwords hidden, control
// characters escaped), and the database is unchanged: row counts and a fingerprint of every row, before and after.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PermanentError } from "../../mod.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";
import { cli } from "./support/cli.ts";

const SQL = `'; drop table x; --`;
const SQL_EVENTS = `'); delete from events; select pg_sleep(5); --`;
/** A database URL typed in the wrong place: its password must never be echoed. */
const URL_WITH_PASSWORD = "postgres://app:s3cret@db.example:5432/app";
const SHOWN_URL = /postgres:\/\/app:\*\*\*@db\.example:5432\/app/.source;

/** argv (without --schema, which is added last unless the case passes its own), exit code, the first stderr line. */
type Case = [what: string, argv: string[], code: 1 | 2, message: RegExp];

const CASES: Case[] = [
  ["status, unknown id", ["status", "no-such-event"], 1, /^No event with id "no-such-event"\.$/],
  ["retry, unknown id", ["retry", "no-such-event"], 1, /^No event with id "no-such-event"\.$/],
  ["status, SQL id", ["status", `${SQL} or 1=1`], 1, /^No event with id "'; drop table x; -- or 1=1"\.$/],
  ["retry, SQL id and source", ["retry", SQL_EVENTS, "--source", SQL], 1, /^No event with id ".*" from source "'; drop table x; --"\.$/],
  ["status, empty id", ["status", ""], 2, /needs an event id/],
  ["events, huge limit", ["events", "--limit", "100000000"], 2, /^--limit must be a whole number from 1 to 1000, got "100000000"\.$/],
  ["events, huger limit", ["events", "--limit", "99999999999999999999999"], 2, /^--limit must be a whole number from 1 to 1000/],
  ["events, negative limit", ["events", "--limit", "-5"], 2, /^--limit needs a value; for one that starts with a dash write --limit=<value>\.$/],
  ["events, negative limit with =", ["events", "--limit=-5"], 2, /^--limit must be a whole number from 1 to 1000, got "-5"\.$/],
  ["events, zero limit", ["events", "--limit", "0"], 2, /^--limit must be a whole number/],
  ["events, limit 1e3", ["events", "--limit", "1e3"], 2, /^--limit must be a whole number/],
  ["events, SQL limit", ["events", "--limit", `1; ${SQL}`], 2, /^--limit must be a whole number/],
  ["events, garbage cursor", ["events", "--cursor", "garbage"], 2, /^--cursor "garbage" is not one pg-dispatch events printed; copy it from the "More:" line/],
  ["events, SQL cursor", ["events", "--cursor", SQL], 2, /^--cursor ".*" is not one pg-dispatch events printed/],
  ["events, base64 SQL cursor", ["events", "--cursor", btoa(`1 or 1=1; ${SQL}`)], 2, /^--cursor ".*" is not one pg-dispatch events printed/],
  ["events, bad status", ["events", "--status", "lost"], 2, /^--status must be one of pending, processing, published, failed, got "lost"\.$/],
  ["events, SQL status", ["events", "--status", SQL], 2, /^--status must be one of .*, got "'; drop table x; --"\.$/],
  ["stats, SQL schema", ["stats", "--schema", `x"; drop table events; --`], 2, /^Invalid schema name "x\\"; drop table events; --": use 1-63 lower-case/],
  ["events, empty schema", ["events", "--schema", ""], 2, /^Invalid schema name ""/],
  ["status, pg_ schema", ["status", "e1", "--schema", "pg_catalog"], 2, /^Invalid schema name "pg_catalog"/],
  ["retry, long schema", ["retry", "e1", "--schema", "s".repeat(64)], 2, /^Invalid schema name "s{64}"/],
  ["events, unknown flag", ["events", "--frobnicate"], 2, /^Unknown option '--frobnicate'\.$/],
  ["status, another command's flag", ["status", "e1", "--limit", "5"], 2, /^Unknown option '--limit'\.$/],
  ["retry, SQL flag", ["retry", "e1", `--${SQL}`], 2, /^Unknown option/],
  ["stats, stray argument", ["stats", SQL], 2, /^stats takes no arguments, got "'; drop table x; --"\.$/],
  ["unknown command", [SQL], 2, /^Unknown command "'; drop table x; --"\.$/],
  ["events, cursor past bigint", ["events", "--cursor", btoa("9999999999999999999").replace(/=+$/, "")], 2, /^--cursor ".*" is not one pg-dispatch events printed/],
  ["status, URL as the id", ["status", URL_WITH_PASSWORD], 1, new RegExp(`^No event with id "${SHOWN_URL}"\\.$`)],
  ["stats, URL as an argument", ["stats", URL_WITH_PASSWORD], 2, new RegExp(`^stats takes no arguments, got "${SHOWN_URL}"\\.$`)],
  ["URL as the command", [URL_WITH_PASSWORD], 2, new RegExp(`^Unknown command "${SHOWN_URL}"\\.$`)],
  ["retry, keyword password as the id", ["retry", "host=db password=s3cret"], 1, /^No event with id "host=db password=\*\*\*"\.$/],
  // The path a config module was looked for at: resolving the URL as a path turns its "//" into "/".
  ["worker, URL as the config module", ["worker", "--config", URL_WITH_PASSWORD], 1, new RegExp(`^Config module ${SHOWN_URL} not found \\(looked for \\S*/postgres:/app:\\*\\*\\*@db\\.example:5432/app\\)\\.$`)],
  ["stats, malformed database URL", ["stats", "--database-url", "postgres://app:s3cret@db.example:port/app"], 2, /^--database-url is not a valid URL .*percent-encode/],
  ["status, terminal escapes in the id", ["status", "a\u009b2J\u001b]0;x\u0007"], 1, /^No event with id "a\\x9b2J\\u001b\]0;x\\u0007"\.$/],
];

describe("guarantee 9 at the CLI: bad command lines exit non-zero with one clear line and change nothing", () => {
  let t: TestOutbox;
  let failedId = "";
  const counts = async (): Promise<string> => {
    const [r] = await t.sql.unsafe(
      `select (select count(*) from "${t.schema}".events) as events, (select count(*) from "${t.schema}".x) as x,
              (select md5(string_agg(e::text, ',' order by e.id, e.source)) from "${t.schema}".events e) as fingerprint`,
    );
    return `${r.events} events, ${r.x} rows in x, fingerprint ${r.fingerprint}`;
  };

  beforeAll(async () => {
    t = await testOutbox();
    // A table named like the one the SQL-looking strings try to drop, in the schema the CLI works on.
    await t.sql.unsafe(`create table "${t.schema}".x (n int); insert into "${t.schema}".x values (1), (2)`);
    await t.outbox.publishEvents(Array.from({ length: 1000 }, (_, i) => ({ type: "seed", source: "reliability", data: { i } })));
    await t.outbox.publishEvent({ type: SQL, source: "reliability", id: SQL, data: { sql: SQL } });
    // A failed event, so that a retry that matched the wrong row would change something visible.
    t.outbox.register("seed.fails", function refuses() {
      throw new PermanentError("refused for the test");
    });
    failedId = (await t.outbox.publishEvent({ type: "seed.fails", source: "reliability" })).id;
    const worker = t.outbox.worker({ retention: false });
    await worker.start();
    await waitFor(async () => (await t.outbox.getEvent(failedId))?.status === "failed", "the seeded failure");
    await worker.stop();
  }, 120_000);
  afterAll(async () => {
    await t?.drop();
  });

  it("refuses every bad command line with the right exit code and one line, and the rows stay as they were", async () => {
    const start = await counts();
    const seen: Record<number, number> = { 1: 0, 2: 0 };
    let changed = 0;
    for (const [what, argv, code, message] of CASES) {
      const before = await counts();
      const args = argv.includes("--schema") || argv.includes("--config") ? argv : [...argv, "--schema", t.schema];
      const run = await cli(args);
      const [first, ...rest] = run.stderr.split("\n");
      expect(run.code, `${what}: ${run.stderr}`).toBe(code);
      expect(run.stdout, what).toBe("");
      expect(run.stderr, what).not.toContain("s3cret");
      expect(run.stderr, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(first, what).toMatch(/^pg-dispatch: \S.{20,}\.$/);
      expect(first.slice("pg-dispatch: ".length), what).toMatch(message);
      // One line; after it only the usage (wrong command line) or where to find it (a value the core refused).
      if (code === 1) expect(rest, what).toEqual([""]);
      else expect(rest[0] === "" && rest[1]?.startsWith("Usage: pg-dispatch") || /^See pg-dispatch( \w+)? --help\.$/.test(rest[0]), `${what}: ${run.stderr}`).toBe(true);
      const after = await counts();
      if (after !== before) changed++;
      expect(after, what).toBe(before);
      seen[code]++;
    }
    expect(await counts()).toBe(start);
    expect(changed).toBe(0);

    // SQL-looking filters are data: they match the one event stored with them, and nothing is executed.
    const listed = await cli(["events", "--type", SQL, "--source", "reliability", "--schema", t.schema, "--json"]);
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { events: { id: string }[] }).events.map((e) => e.id)).toEqual([SQL]);
    const shown = await cli(["status", SQL, "--schema", t.schema, "--json"]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: SQL, type: SQL, data: { sql: SQL } });
    expect((await t.outbox.getEvent(failedId))?.status).toBe("failed");
    expect(await counts()).toBe(start);

    summary("bad-input/cli", {
      commandLines: CASES.length,
      exit2: seen[2],
      exit1: seen[1],
      sqlFiltersAsData: 2,
      rowsChangedByRefusals: changed,
    });
  }, 60_000);
});
