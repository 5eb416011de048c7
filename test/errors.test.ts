// DispatchError's code is a union type of the codes in use (test/fixtures/error-codes.ts, compiled here).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, test } from "vitest";
import { DeliveryError, DispatchError, PermanentError } from "../mod.ts";

const ROOT = join(import.meta.dirname, "..");
const run = promisify(execFile);

test("compile time: a misspelt or made-up code does not compile, a switch over the codes does", async () => {
  const result = await run(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "-p", "test/fixtures/tsconfig.errors.json"], { cwd: ROOT })
    .catch((e) => e);
  expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toBe("");
}, 60_000);

test("the codes at run time", () => {
  const err = new DispatchError("invalid_option", "limit must be a whole number.", { field: "limit" });
  expect(err).toMatchObject({ name: "DispatchError", code: "invalid_option", field: "limit" });
  expect(new DeliveryError("x").code).toBe("delivery_failed");
  expect(new PermanentError("x").code).toBe("delivery_failed_permanently");
});
