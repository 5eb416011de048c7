// { tx } joins the transaction of whatever client the application already uses. postgres.js and node-postgres are
// covered in publish.test.ts; Bun's own SQL client only exists under Bun, so that check runs in the bun binary.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, testOutbox, type TestOutbox } from "./support/db.ts";

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox();
});
afterAll(async () => {
  await t.drop();
});

describe("atomic publish through other clients' transactions", () => {
  it("joins a Bun SQL transaction: committed is stored (one event and a batch), rolled back is not", async () => {
    const { stdout } = await promisify(execFile)("node_modules/.bin/bun", ["test/fixtures/bun-sql-tx.ts"], {
      env: { ...process.env, DATABASE_URL: databaseUrl(), SCHEMA: t.schema },
    });
    expect(stdout.trim()).toBe("ok");
    const [{ n }] = await t.sql.unsafe(`select count(*)::int as n from "${t.schema}".events`);
    expect(n).toBe(3); // the committed event and the committed batch of two
  });
});
