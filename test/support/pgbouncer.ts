// A real PgBouncer (Debian's package) in transaction pooling mode, in front of the test database: started on a free
// port with a config file written here, as the postgres OS user (PgBouncer refuses to run as root), killed after.
import { freePort } from "../../examples/embedded-postgres.ts";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseUrl, waitFor } from "./db.ts";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

/** True when PgBouncer is installed; under CI=true its absence is an error, elsewhere the tests skip loudly. */
export function havePgBouncer(): boolean {
  if (existsSync(PGBOUNCER)) return true;
  if (process.env.CI === "true") throw new Error(`PgBouncer is not installed at ${PGBOUNCER}: apt-get install -y pgbouncer`);
  console.warn(`SKIPPED: PgBouncer tests need ${PGBOUNCER} (apt-get install -y pgbouncer).`);
  return false;
}

export interface Bouncer {
  /** The test database through PgBouncer (transaction pooling). */
  url: string;
  stop(): Promise<void>;
}

/** Starts PgBouncer in transaction mode in front of `url`'s server (default DATABASE_URL's). */
export async function startPgBouncer(url = databaseUrl()): Promise<Bouncer> {
  const target = new URL(url);
  const dir = mkdtempSync(join(tmpdir(), "pg-dispatch-bouncer-"));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const db = decodeURIComponent(target.pathname.slice(1));
  const server = [
    `host=${target.hostname}`, `port=${target.port || 5432}`, `dbname=${db}`,
    `user=${decodeURIComponent(target.username || "postgres")}`,
    ...(target.password ? [`password=${decodeURIComponent(target.password)}`] : []),
  ].join(" ");
  const config = join(dir, "pgbouncer.ini");
  writeFileSync(config, [
    "[databases]",
    `${db} = ${server}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = any",
    "pool_mode = transaction",
    "default_pool_size = 4",
    "max_client_conn = 200",
    "ignore_startup_parameters = extra_float_digits,options",
    `logfile = ${join(dir, "pgbouncer.log")}`,
    `pidfile = ${join(dir, "pgbouncer.pid")}`,
    "",
  ].join("\n"));
  chmodSync(config, 0o644);
  const ids = (flag: string): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  const root = process.getuid?.() === 0;
  const child: ChildProcess = spawn(PGBOUNCER, [config], {
    stdio: "ignore",
    ...(root ? { uid: ids("-u"), gid: ids("-g") } : {}),
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  await waitFor(async () => {
    if (exited) throw new Error(`PgBouncer exited at start; see ${join(dir, "pgbouncer.log")}`);
    return await accepts(port);
  }, "PgBouncer to accept connections", 10_000);
  const user = encodeURIComponent(decodeURIComponent(target.username || "postgres"));
  return {
    url: `postgres://${user}@127.0.0.1:${port}/${encodeURIComponent(db)}`,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

