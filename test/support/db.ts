// Each test file works in its own schema of the test database and drops it at the end.
import postgres, { type Sql } from "postgres";
import { Outbox, type OutboxOptions } from "../../mod.ts";

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run the tests through vitest (its global setup provides one).");
  return url;
}

/** A postgres.js client on the test database. */
export function connect(options: postgres.Options<{}> = {}): Sql {
  return postgres(databaseUrl(), { max: 4, onnotice: () => {}, ...options });
}

/** A fresh, unique schema name for one test. */
export function schemaName(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export interface TestOutbox {
  sql: Sql;
  outbox: Outbox;
  schema: string;
  /** A second outbox on the same schema with its own connection pool: another "process". */
  another(options?: Partial<OutboxOptions>): Promise<Outbox>;
  drop(): Promise<void>;
}

/** A migrated outbox in a schema of its own; quiet unless a test passes a logger. */
export async function testOutbox(options: Partial<OutboxOptions> = {}): Promise<TestOutbox> {
  const sql = connect();
  const schema = schemaName();
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const outbox = new Outbox({ sql, schema, logger: quiet, ...options });
  await outbox.migrate();
  const others: Sql[] = [];
  return {
    sql,
    outbox,
    schema,
    async another(more = {}) {
      const s = connect();
      others.push(s);
      return new Outbox({ sql: s, schema, logger: quiet, ...options, ...more });
    },
    async drop() {
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await Promise.all([sql, ...others].map((s) => s.end({ timeout: 1 })));
    },
  };
}

/**
 * Polls a condition until it holds or the deadline passes; never a bare sleep. Any falsy value (false, 0, "") means
 * "not yet": to wait for a count that may be 0, return it in an object.
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
