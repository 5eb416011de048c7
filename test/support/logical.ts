// A throwaway PostgreSQL with wal_level=logical, for the logical wake-up mode (the machine's server runs with
// replica, and its configuration is not ours to change): an embedded server, switched over and restarted.
import postgres from "postgres";
import { type EmbeddedServer, startEmbeddedPostgres } from "../../examples/embedded-postgres.ts";

/** Starts an embedded server and restarts it with wal_level=logical. */
export async function startLogicalPostgres(): Promise<EmbeddedServer> {
  const server = await startEmbeddedPostgres();
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  try {
    await admin`alter system set wal_level = logical`;
  } finally {
    await admin.end({ timeout: 1 });
  }
  await server.restart();
  return server;
}
