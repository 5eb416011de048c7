// Runs once before the whole suite: builds dist/, then uses DATABASE_URL when set, otherwise starts a throwaway
// embedded PostgreSQL and hands its URL to every test file through the environment.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "../../examples/embedded-postgres.ts";

export default async function setup(): Promise<() => Promise<void>> {
  // Build dist/ once, before any test file runs: Node 20 runs the CLI, the conformance scenario and the tarball
  // from it, and a build while another file's child process reads dist/ would hand it half-written files.
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(`${root}/node_modules/.bin/tsc`, ["-p", "tsconfig.conformance.json"], { cwd: root, stdio: "inherit" });
  if (process.env.DATABASE_URL) return async () => {};
  const server = await startEmbeddedPostgres();
  process.env.DATABASE_URL = server.url;
  return async () => {
    await server.stop();
  };
}
