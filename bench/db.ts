// The bench's own database: DATABASE_URL (default: the machine's server), or a throwaway embedded server when
// DATABASE_URL is unset and the default is unreachable. A fresh database per run, so pg_stat_database counts only
// the bench's own transactions.
import postgres from "postgres";
import { startEmbeddedPostgres } from "../examples/embedded-postgres.ts";

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test";
const NAME = "pg_dispatch_bench";

/** A database for one bench run, and how to remove it. */
export interface BenchDatabase {
  url: string;
  /** Where it lives, for the report (password removed). */
  where: string;
  close(): Promise<void>;
}

/** Creates the bench database (dropping a leftover one) on the server DATABASE_URL names. */
export async function benchDatabase(name: string = NAME): Promise<BenchDatabase> {
  let base = process.env.DATABASE_URL ?? DEFAULT_URL;
  let stopServer = async (): Promise<void> => {};
  if (!process.env.DATABASE_URL && !(await reachable(base))) {
    const server = await startEmbeddedPostgres();
    base = server.url;
    stopServer = () => server.stop();
  }
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const where = `${url.host}/${name}`;
  return {
    url: url.href,
    where,
    async close() {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end({ timeout: 2 });
      await stopServer();
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}
