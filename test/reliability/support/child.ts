// Starts the worker fixture in a child process with the bun binary (Node 20 cannot run .ts).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { WorkerOptions } from "../../../src/worker.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const FIXTURE = join(ROOT, "test", "reliability", "fixtures", "worker.ts");

/** A worker in its own process. */
export interface ChildWorker {
  process: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
  stdout: () => string;
  stderr: () => string;
}

/** Spawns the fixture and resolves once it prints "ready" (its LISTEN connection is up). */
export async function startChildWorker(config: {
  url: string;
  schema: string;
  urls: Record<string, string>;
  worker: WorkerOptions;
  webhookTimeoutMs?: number;
  secret?: string;
}): Promise<ChildWorker> {
  const child = spawn(BUN, [FIXTURE], {
    env: { ...process.env, PGD_WORKER: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (out.includes("ready")) resolve(true);
      };
      child.stdout!.on("data", check);
    }),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000).unref()),
  ]);
  if (!ready) {
    child.kill("SIGKILL");
    throw new Error(`The worker fixture did not start: ${err || out}`);
  }
  return { process: child, exited, stdout: () => out, stderr: () => err };
}

/** Kills a child if it is still running and waits for it to go. */
export async function killChild(child: ChildWorker | null | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGKILL");
  await child.exited;
}
