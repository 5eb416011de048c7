// The receiver on Node, Deno and Bun, with each client it names: postgres.js and node-postgres on all three, Bun SQL
// on Bun; served by each runtime's own HTTP server (test/fixtures/receiver-runtime.ts).
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { migrateInbox } from "../adapters/receiver.ts";
import { connect, databaseUrl, schemaName } from "./support/db.ts";
import { RUNTIME_NAMES, RUNTIMES, runCommand } from "./support/runtimes.ts";

const sql = connect();
const schema = schemaName("rcvrt");
const CLIENTS = { node: "postgres.js, node-postgres", deno: "postgres.js, node-postgres", bun: "postgres.js, node-postgres, bun-sql" };

beforeAll(async () => {
  await migrateInbox(sql, { schema });
  await sql.unsafe(`create table "${schema}".effects (source text not null, id text not null, subject text)`);
});

afterAll(async () => {
  await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end({ timeout: 1 });
});

describe("the receiver handles each event once on every runtime, with every client it supports there", () => {
  test.each(RUNTIME_NAMES)("%s", async (name) => {
    const { command, args } = RUNTIMES[name]("test/fixtures/receiver-runtime.ts");
    const outcome = await runCommand(command, args, { env: { ...process.env, DATABASE_URL: databaseUrl(), SCHEMA: schema }, timeoutMs: 60_000 });
    expect(outcome.code, `the receiver on ${name} failed:\n${outcome.output}`).toBe(0);
    expect(outcome.output).toMatch(new RegExp(`PASSED receiver on ${name} \\S+: ${CLIENTS[name]}\\n`));
    // Seen from outside the runtime: one effect row per client, no row of the handler that threw.
    const rows = await sql.unsafe(`select source, count(*)::int as n from "${schema}".effects where source like $1 group by source order by source`, [`runtime-${name}-%`]);
    expect(rows.map((r) => [r.source, r.n])).toEqual(CLIENTS[name].split(", ").sort().map((c) => [`runtime-${name}-${c}`, 1]));
  }, 90_000);
});
