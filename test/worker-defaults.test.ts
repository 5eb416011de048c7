// The worker's defaults are declared once (DEFAULT_WORKER), read by the worker, and quoted by the README.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { DEFAULT_RETRY, DEFAULT_WORKER, DispatchError, Outbox } from "../mod.ts";
import { connect } from "./support/db.ts";

const sql = connect();
afterAll(async () => {
  await sql.end({ timeout: 1 });
});

test("DEFAULT_WORKER is exported beside DEFAULT_RETRY and cannot be changed", () => {
  expect(DEFAULT_RETRY.maxRetries).toBe(10);
  expect(DEFAULT_WORKER).toEqual({
    concurrency: 32, leaseMs: 30_000, sweepIntervalMs: 30_000, handlerTimeoutMs: 10_000, stopTimeoutMs: 10_000, maxLeaseExpiries: 3,
  });
  expect(Object.isFrozen(DEFAULT_WORKER)).toBe(true);
});

test("the README's configuration table quotes the same defaults", () => {
  const readme = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");
  for (const [name, value] of Object.entries(DEFAULT_WORKER)) {
    expect(readme, name).toMatch(new RegExp(`^\\| \`${name}\` \\| ${value} \\|`, "m"));
  }
});

test("the worker reads them: an unset handlerTimeoutMs is DEFAULT_WORKER's", () => {
  const outbox = new Outbox({ sql });
  const err = (() => {
    try {
      outbox.worker({ leaseMs: DEFAULT_WORKER.handlerTimeoutMs });
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(DispatchError);
  expect((err as DispatchError).message).toContain(`handlerTimeoutMs (${DEFAULT_WORKER.handlerTimeoutMs})`);
});
