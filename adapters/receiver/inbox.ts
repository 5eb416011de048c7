import type { Query } from "../../src/client.ts";
import type { MigrationSet } from "../../src/store/migrate.ts";

/**
 * The inbox: one row per event a receiver has handled, keyed as CloudEvents identify an event, by (source, id).
 * A row is inserted in the same transaction as the handler's writes, so it exists if and only if they committed; a
 * second delivery of the event finds it and is acknowledged without running the handler. Refused events (bad
 * signature, malformed, refused by the handler) leave no row. Rows are small and never updated; delete old ones with
 * `delete from <schema>.inbox where received_at < now() - interval '30 days'` once no sender retries that long.
 */
function inbox(s: string): string {
  return `
create table ${s}.inbox (
  source text not null,
  id text not null,
  type text not null,
  received_at timestamptz not null default now(),
  primary key (source, id)
);
-- Serves the retention delete above.
create index inbox_received_at on ${s}.inbox (received_at);`;
}

/**
 * The inbox's migrations, kept apart from the outbox's (their own table, their own lock) so a receiver can share the
 * outbox's schema, or live in a database that has no outbox.
 */
export const INBOX_MIGRATIONS: MigrationSet = {
  table: "inbox_migrations",
  lock: "pg-dispatch-inbox",
  migrations: [{ version: 1, name: "inbox", sql: inbox }],
};

/** An event's key in the inbox. */
export interface InboxKey {
  source: string;
  id: string;
  type: string;
}

/**
 * Records events in the inbox inside the caller's transaction and returns, for each, whether it was new. A key
 * already there (committed, or being inserted by a concurrent delivery, which this waits for) is not new; when the
 * concurrent delivery rolls back, this one inserts it.
 */
export async function record(query: Query, quotedSchema: string, keys: readonly InboxKey[]): Promise<boolean[]> {
  const fresh: boolean[] = [];
  // One statement per event, in request order: a batch holding the same event twice runs its handler once.
  for (const k of keys) {
    const rows = await query(
      `insert into ${quotedSchema}.inbox (source, id, type) values ($1, $2, $3) on conflict do nothing returning true as fresh`,
      [k.source, k.id, k.type],
    );
    fresh.push(rows.length > 0);
  }
  return fresh;
}
