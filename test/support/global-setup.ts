// Runs once before the whole suite: uses DATABASE_URL when set, otherwise starts a throwaway embedded PostgreSQL
// and hands its URL to every test file through the environment.
import { startEmbeddedPostgres } from "../../examples/embedded-postgres.ts";

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) return async () => {};
  const server = await startEmbeddedPostgres();
  process.env.DATABASE_URL = server.url;
  return async () => {
    await server.stop();
  };
}
