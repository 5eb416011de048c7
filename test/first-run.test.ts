// The README's first command from a checkout the "postgres" OS user cannot enter: as root in a container, a clone under
// /root or in a `mktemp -d` folder (mode 0700). The embedded PostgreSQL runs as that user, so it must not need to reach
// anything inside the checkout. (.ci/run does the same from a real clone with `npm ci`; this runs in every `npm test`.)
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { startEmbeddedPostgres } from "../examples/embedded-postgres.ts";
import { connect, databaseUrl } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const asRoot = process.getuid?.() === 0;
let dir: string | undefined;

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Only root hands the server to another OS user; as anyone else the server runs as you and reaches your checkout.
test.skipIf(!asRoot)("npm run demo, with no DATABASE_URL, in a 0700 checkout as root", async () => {
  dir = mkdtempSync(join(tmpdir(), "pgd-private-"));
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  const checkout = join(dir, "c");
  // The working tree as a clone would have it (tracked and new files, not ignored ones), and node_modules as
  // `npm ci` would leave it: real directories inside the private folder (hard links when on the same file system).
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0")
    .filter((file) => file && file !== "node_modules"); // the worktree's node_modules may be a symlink git does not ignore
  for (const file of files) {
    mkdirSync(join(checkout, dirname(file)), { recursive: true });
    cpSync(join(ROOT, file), join(checkout, file));
  }
  const modules = realpathSync(join(ROOT, "node_modules"));
  try {
    execFileSync("cp", ["-al", modules, join(checkout, "node_modules")]);
  } catch {
    execFileSync("cp", ["-a", modules, join(checkout, "node_modules")]);
  }
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.PUBSUB_EMULATOR_HOST;
  const outcome = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn("npm", ["run", "demo"], { cwd: checkout, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
  expect(outcome.output).not.toMatch(/EACCES/);
  expect(outcome.code, outcome.output).toBe(0);
  expect(outcome.output).toContain("starting a throwaway embedded PostgreSQL");
  expect(outcome.output).toMatch(/stats\(\): \{"pending":0,"processing":0,"published":4,"failed":1/);
}, 120_000);

// The server's data goes under the temporary directory too: with TMPDIR private to root (pam_tmpdir, or a
// `TMPDIR=$(mktemp -d)`), the postgres user cannot follow, whatever the checkout. One sentence says so, and what to do.
test.skipIf(!asRoot)("as root with a private TMPDIR: one sentence naming TMPDIR and DATABASE_URL, not initdb's EACCES", async () => {
  const before = process.env.TMPDIR;
  const privateTmp = mkdtempSync(join(tmpdir(), "pgd-private-tmp-"));
  process.env.TMPDIR = privateTmp;
  try {
    const error = await startEmbeddedPostgres().then((server) => server.stop(), (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toMatch(/EACCES/);
    expect((error as Error).message).toMatch(new RegExp(`cannot enter the temporary directory ${privateTmp}: set TMPDIR .* or set DATABASE_URL`));
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(privateTmp, { recursive: true, force: true });
  }
}, 30_000);

// With DATABASE_URL the demo writes into that database (the schema dispatch_demo) and leaves it there: it must say so,
// and how to look at it or remove it, rather than leave a schema behind in a reader's database without a word.
test("npm run demo with a DATABASE_URL says where its events stay, and how to look at them or drop them", async () => {
  const admin = connect({ max: 1 });
  const database = `demo_${Date.now().toString(36)}`;
  await admin.unsafe(`create database ${database}`);
  const url = new URL(databaseUrl());
  url.pathname = `/${database}`;
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url.href };
    delete env.PUBSUB_EMULATOR_HOST;
    const output = await new Promise<string>((resolve, reject) => {
      // The demo as `npm run demo` runs it once built (the global setup built dist/).
      const child = spawn(process.execPath, [join(ROOT, "dist/examples/demo.js")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk));
      child.stderr.on("data", (chunk: Buffer) => (out += chunk));
      child.once("error", reject);
      child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`demo exited ${code}:\n${out}`))));
    });
    expect(output).not.toContain("embedded PostgreSQL");
    expect(output).toMatch(/schema dispatch_demo .*DATABASE_URL/);
    expect(output).toContain("npx pg-dispatch events --schema dispatch_demo");
    expect(output).toContain("drop schema dispatch_demo cascade");
    // Every delivery line's status starts in one column, whatever the destination's name.
    const statusColumns = new Set(output.split("\n").filter((l) => l.startsWith("    - ")).map((l) => l.search(/  (delivered|failed) /)));
    expect([...statusColumns]).toHaveLength(1);
    expect([...statusColumns][0]).toBeGreaterThan(0);
    const db = connect({ max: 1, database });
    try {
      const [row] = await db`select count(*)::int as n from dispatch_demo.events`;
      expect(row.n).toBe(5);
    } finally {
      await db.end({ timeout: 1 });
    }
  } finally {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end({ timeout: 1 });
  }
}, 60_000);
