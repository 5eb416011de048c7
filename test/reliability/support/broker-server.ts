// A broker server of the scenario's own, on a free port with its store in a temporary directory, which the scenario
// kills and starts again. Never the machine's shared brokers on the standard ports: other test files use them at the
// same time.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closedPort } from "../../support/brokers.ts";
import { waitFor } from "../../support/db.ts";

/** How to run one broker: its command line for a port and a directory, and when it is ready for clients. */
export interface BrokerSpec {
  name: string;
  command: string;
  args(port: number, dir: string): string[];
  env?(port: number, dir: string): Record<string, string>;
  /** True once a client of the broker's own can do its work (an open port is not always enough). */
  ready(port: number): Promise<boolean>;
  /** How long a start may take (default 15 s). */
  startTimeoutMs?: number;
}

/** A running broker of the scenario's own. */
export interface BrokerServer {
  port: number;
  /** Starts the server and waits until it is ready; resolves to the milliseconds that took. */
  start(): Promise<number>;
  /** Stops it with `signal` (SIGKILL: a crash; SIGTERM: a clean shutdown), waiting until its port is closed. */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** Stops it (SIGKILL) if it runs, and removes its directory. */
  remove(): Promise<void>;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Whether `attempt` (a client connecting and doing some work, then closing) succeeds: a `ready` check. */
export async function succeeds(attempt: () => Promise<unknown>): Promise<boolean> {
  try {
    await attempt();
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the broker's binary is installed. A missing one skips the scenario with a line that says what to install,
 * except under CI=true, where it fails the run.
 */
export function installed(command: string, debianPackage: string): boolean {
  if (existsSync(command)) return true;
  const message = `${command} is not installed (apt-get install -y ${debianPackage})`;
  if (process.env.CI === "true") throw new Error(`${message}: CI=true requires it`);
  console.warn(`\n*** SKIPPING the ${debianPackage} restart audit: ${message} ***\n`);
  return false;
}

/** A broker on a free port, not yet started. */
export async function brokerServer(spec: BrokerSpec): Promise<BrokerServer> {
  const port = await closedPort();
  // Made on the first start (a skipped scenario leaves nothing behind), kept across restarts: the store lives there.
  let dir: string | undefined;
  let child: ChildProcess | undefined;

  async function stop(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    child = undefined;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
      // Its own process group: a launcher script (RabbitMQ's) and the server it starts go down together.
      process.kill(-c.pid, signal);
      await exited;
    }
    await waitFor(async () => !(await listening(port)), `${spec.name} to close port ${port}`, 30_000);
  }

  return {
    port,
    async start() {
      const started = performance.now();
      dir ??= mkdtempSync(join(tmpdir(), `pgd-${spec.name}-`));
      child = spawn(spec.command, spec.args(port, dir), {
        env: { ...process.env, ...spec.env?.(port, dir) },
        stdio: "ignore",
        detached: true,
      });
      const exited = new Promise<string>((resolve) => {
        child!.once("exit", (code, signal) => resolve(`exited (${signal ?? code})`));
        child!.once("error", (err) => resolve(`could not start (${err.message})`));
      });
      await waitFor(
        () => Promise.race([spec.ready(port), exited.then((how) => Promise.reject(new Error(`${spec.name} ${how}; see ${dir}`)))]),
        `${spec.name} to start on port ${port}`,
        spec.startTimeoutMs ?? 15_000,
      );
      return performance.now() - started;
    },
    stop,
    async remove() {
      await stop("SIGKILL").catch(() => undefined);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
