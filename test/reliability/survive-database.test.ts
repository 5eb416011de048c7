// Scenario 11, a worker that survives its database: the real CLI worker, and the library's worker in a plain Node
// process (superviseWorker), each against a PostgreSQL that is restarted twice. postgres.js can throw an uncaught
// TypeError from a timer when a connection drops at the wrong moment, which ends a Node process; it does not happen
// every time, so each connection the worker's pool loses throws that same error from a timer here. The process must
// stay up and deliver what is published after each restart within seconds of the server being back.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import postgres, { type Sql } from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outbox } from "../../mod.ts";
import { type EmbeddedServer, startEmbeddedPostgres } from "../../examples/embedded-postgres.ts";
import { waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";
import { CLI, ROOT } from "./support/cli.ts";
import { healthy, Receiver } from "./support/receiver.ts";

/** How soon after the server is back every new event must have been delivered. */
const RESUME_WITHIN_MS = 10_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
// Not while the process shuts down on purpose: then every connection closes, and no driver would crash on that.
const crash = `if (!globalThis.stopping) setImmediate(() => { throw new TypeError("Cannot read properties of null (reading 'write')"); })`;

let server: EmbeddedServer;
let sql: Sql;
let receiver: Receiver;
let dir: string;
beforeAll(async () => {
  server = await startEmbeddedPostgres();
  sql = postgres(server.url, { max: 2, onnotice: () => {} });
  receiver = await Receiver.start({ a: healthy });
  dir = mkdtempSync(join(tmpdir(), "pg-dispatch-survive-"));
}, 60_000);
afterAll(async () => {
  await sql?.end({ timeout: 1 });
  await receiver?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs one process through two restarts; returns its log and how long deliveries took to resume each time. */
async function throughRestarts(schema: string, child: ChildProcess, log: () => string): Promise<number[]> {
  const outbox = new Outbox({ sql, schema, logger: quiet });
  const delivered = () => new Set(receiver.arrivals.filter((a) => a.dest === "a").map((a) => a.id));
  await waitFor(() => log().includes('"ready"') || log().includes("worker started"), "the worker to start", 30_000);
  const first = await outbox.publishEvents(Array.from({ length: 20 }, (_, i) => ({ type: "t", source: schema, data: { i } })));
  await waitFor(() => first.every((e) => delivered().has(e.id)), "deliveries before the restarts", 30_000);
  const resumed: number[] = [];
  for (let r = 0; r < 2; r++) {
    await server.restart();
    const back = Date.now();
    expect(child.exitCode, log()).toBe(null);
    const more = await outbox.publishEvents(Array.from({ length: 20 }, (_, i) => ({ type: "t", source: schema, data: { r, i } })));
    // "Within seconds of the server being back": the worker retries its connection each second.
    await waitFor(() => more.every((e) => delivered().has(e.id)), `deliveries after restart ${r + 1}`, RESUME_WITHIN_MS);
    resumed.push(Date.now() - back);
    expect(child.exitCode, log()).toBe(null);
    expect(child.signalCode).toBe(null);
  }
  return resumed;
}

async function migrated(schema: string): Promise<void> {
  await new Outbox({ sql, schema, logger: quiet }).migrate();
}

async function terminate(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return await exited;
}

describe("guarantee 2: a worker survives its database restarting, and the driver's crash with it", () => {
  it("the real CLI worker stays up through two restarts and resumes within seconds", async () => {
    const schema = "survive_cli";
    await migrated(schema);
    const config = join(dir, "dispatch.config.mjs");
    const url = (path: string): string => JSON.stringify(pathToFileURL(join(ROOT, path)).href);
    writeFileSync(config, `import postgres from ${url("node_modules/postgres/src/index.js")};
import { Outbox } from ${url("dist/mod.js")};
import { webhook } from ${url("dist/adapters/webhook.js")};
process.once("SIGTERM", () => { globalThis.stopping = true; });
const sql = postgres(process.env.DATABASE_URL, { max: 4, onnotice() {}, onclose() { ${crash}; } });
export const outbox = new Outbox({ sql, schema: ${JSON.stringify(schema)}, retry: { baseDelayMs: 50, maxDelayMs: 500 } });
outbox.register("*", webhook({ url: ${JSON.stringify(receiver.urls.a)}, name: "a" }));
`);
    let out = "";
    const child = spawn("node", [CLI, "worker", "--config", config, "--sweep-interval-ms", "1000"], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: server.url }, stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => (out += d));
    child.stderr!.on("data", (d: Buffer) => (out += d));
    try {
      const resumed = await throughRestarts(schema, child, () => out);
      expect(out).toMatch(/replacing the worker/);
      expect(await terminate(child)).toBe(0);
      summary("survive-database/cli", { restarts: 2, processAlive: "yes", resumedMs: resumed.join("|") });
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);

  it("the library's worker in a plain Node process, under superviseWorker, stays up and resumes", async () => {
    const schema = "survive_lib";
    await migrated(schema);
    let out = "";
    const child = spawn("node", [join(ROOT, "test/fixtures/supervised-worker.mjs")], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: server.url, PGD_SCHEMA: schema, PGD_URL: receiver.urls.a, PGD_SIMULATE_DRIVER_CRASH: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d: Buffer) => (out += d));
    child.stderr!.on("data", (d: Buffer) => (out += d));
    try {
      const resumed = await throughRestarts(schema, child, () => out);
      expect(out).toMatch(/replacing the worker/);
      expect(await terminate(child)).toBe(0);
      summary("survive-database/library", { restarts: 2, processAlive: "yes", resumedMs: resumed.join("|") });
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);
});
