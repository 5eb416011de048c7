// The real CLI, built by the global setup and run as a child process, as `npx pg-dispatch` runs it.
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { databaseUrl } from "./db.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CLI = join(ROOT, "dist/src/cli.js");
export const BIN = join(ROOT, "node_modules/.bin");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return finished(start(["node", CLI], args, env));
}

export function start(command: string[], args: string[], env: Record<string, string | undefined> = {}): ChildProcess {
  return spawn(command[0], [...command.slice(1), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl(), NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function finished(child: ChildProcess): Promise<Run> & { child: ChildProcess; output: () => string } {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return Object.assign(done, { child, output: () => stdout + stderr });
}

/** The JSON a `--json` run printed. */
export function json<T>(run: Run): T {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}
