import { freePort } from "../../examples/embedded-postgres.ts";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";

/** Where the Google Cloud SDK installs the Pub/Sub emulator on this project's machines. */
export const EMULATOR_BIN = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";
const DEFAULT_HOST = "127.0.0.1:8085";
const READY_DEADLINE_MS = 60_000;

/** A Pub/Sub emulator the tests can use; `stop` ends it only if these tests started it. */
export interface RunningEmulator {
  /** `host:port`, the form PUBSUB_EMULATOR_HOST takes. */
  host: string;
  stop(): Promise<void>;
}

/**
 * Whether the Pub/Sub suites can run. A missing emulator skips them loudly, except under CI=true where it fails.
 *
 * @example
 * ```ts
 * const describeEmulator = emulatorAvailable() ? describe : describe.skip;
 * ```
 */
export function emulatorAvailable(): boolean {
  if (process.env.PUBSUB_EMULATOR_HOST || existsSync(EMULATOR_BIN)) return true;
  const message = `Pub/Sub emulator not installed at ${EMULATOR_BIN} and PUBSUB_EMULATOR_HOST is not set`;
  if (process.env.CI === "true") throw new Error(`${message}: CI=true requires it (install google-cloud-sdk's pubsub-emulator)`);
  console.warn(`\n*** SKIPPING Pub/Sub tests: ${message} ***\n`);
  return false;
}

/**
 * Uses the emulator answering on PUBSUB_EMULATOR_HOST or 127.0.0.1:8085, or starts one on a free port and waits
 * until it answers. Sets PUBSUB_EMULATOR_HOST for the official client.
 *
 * @example
 * ```ts
 * let emulator: RunningEmulator;
 * beforeAll(async () => { emulator = await startEmulator(); }, 90_000);
 * afterAll(() => emulator.stop());
 * ```
 */
export async function startEmulator(): Promise<RunningEmulator> {
  // The official client probes for a GCE metadata server even against the emulator and warns when there is none.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  const candidates = [process.env.PUBSUB_EMULATOR_HOST, DEFAULT_HOST].filter((h): h is string => !!h);
  for (const host of candidates) {
    if (await answers(host)) {
      process.env.PUBSUB_EMULATOR_HOST = host;
      return { host, async stop() {} };
    }
  }
  if (!existsSync(EMULATOR_BIN)) {
    throw new Error(`Nothing answers on ${candidates.join(" or ")} and the emulator is not installed at ${EMULATOR_BIN}`);
  }
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // Its own process group: the launcher script starts java as a child, and stop() must end both.
  const child = spawn(EMULATOR_BIN, ["--host=127.0.0.1", `--port=${port}`], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  function collect(chunk: Buffer): void {
    output = (output + chunk.toString()).slice(-4000);
  }
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // Should the test process end without stop(), do not leave a Java process behind.
  function onExit(): void {
    if (child.pid !== undefined && child.exitCode === null) signal(child.pid, "SIGKILL");
  }
  process.once("exit", onExit);
  const stop = async () => {
    await stopGroup(child, exited);
    process.off("exit", onExit);
  };
  const deadline = Date.now() + READY_DEADLINE_MS;
  while (!(await answers(host))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`The Pub/Sub emulator exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The Pub/Sub emulator did not answer on ${host} within ${READY_DEADLINE_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.env.PUBSUB_EMULATOR_HOST = host;
  return { host, stop };
}

async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  signal(child.pid, "SIGTERM");
  const killed = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
  if (!killed) {
    signal(child.pid, "SIGKILL");
    await exited;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pid, name);
  } catch {
    // the group is already gone
  }
}

// The emulator answers "Ok" on GET /.
async function answers(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

