// How the tests run a TypeScript entry point of this repository under each runtime, as a child process: Node runs
// the built JS under dist/ (the global setup builds it), Deno and Bun the sources, with the binaries from the npm
// packages `deno` and `bun`.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "node_modules", ".bin");
export const DENO = join(BIN, "deno");
export const BUN = join(BIN, "bun");

/** How each runtime runs a TypeScript entry point of this repository (Node: the built JS under dist/). */
export const RUNTIMES = {
  node: (entry: string) => ({ command: process.execPath, args: [join(ROOT, "dist", entry.replace(/\.ts$/, ".js"))] }),
  deno: (entry: string) => ({ command: DENO, args: ["run", "-A", join(ROOT, entry)] }),
  bun: (entry: string) => ({ command: BUN, args: [join(ROOT, entry)] }),
};
export type RuntimeName = keyof typeof RUNTIMES;
export const RUNTIME_NAMES = Object.keys(RUNTIMES) as RuntimeName[];

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs a command to completion (or the deadline), collecting stdout and stderr together. */
export function runCommand(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      output += `\n[killed after ${options.timeoutMs} ms]`;
    }, options.timeoutMs);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}
