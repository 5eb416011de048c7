// The real CLI for the scenarios: built by the suite's global setup and run as `node dist/src/cli.js`, as
// `npx pg-dispatch` runs it (Node 20 cannot run the .ts sources).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { databaseUrl } from "../../support/db.ts";

export const ROOT = join(import.meta.dirname, "..", "..", "..");
export const CLI = join(ROOT, "dist", "src", "cli.js");

/** One finished CLI run. */
export interface CliRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Starts `node dist/src/cli.js <args>` with DATABASE_URL set to the test database. */
export function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliRun>; output: () => string } {
  const child = spawn("node", [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl(), NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, output: () => stdout + stderr };
}

/** Runs the CLI to completion. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).done;
}
