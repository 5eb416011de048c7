import type { Sql } from "postgres";
import { type Query, toQuery } from "../client.ts";
import { type Migration, migrations } from "../migrations/index.ts";
import type { Schema } from "../schema.ts";

/** A list of migrations and where its progress is kept: the outbox's own, or another part's (the receiver's inbox). */
export interface MigrationSet {
  /** The table, in the schema, that records which versions were applied. */
  table: string;
  /** Names the advisory lock, with the schema name, so two sets in one schema do not wait for each other. */
  lock: string;
  migrations: readonly Migration[];
}

/** The outbox's migrations. */
export const OUTBOX_MIGRATIONS: MigrationSet = { table: "migrations", lock: "pg-dispatch", migrations };

/**
 * Applies the migrations this schema lacks, in one transaction under an advisory lock, so any number of processes
 * can call it at once: the first applies, the others wait and find nothing to do. Returns the versions applied.
 */
export async function migrate(sql: Sql, schema: Schema, set: MigrationSet = OUTBOX_MIGRATIONS): Promise<number[]> {
  return await sql.begin((tx) => applyMigrations(toQuery(tx), schema, set)) as number[];
}

/** {@link migrate} inside a transaction the caller opened, through any client. */
export async function applyMigrations(query: Query, schema: Schema, set: MigrationSet): Promise<number[]> {
  const s = schema.quoted;
  // "create ... if not exists" raises a NOTICE for everything that exists; postgres.js prints notices to stdout by
  // default, which would break the CLI worker's one-JSON-object-per-line log on every start.
  await query(`set local client_min_messages = warning`, []);
  await query(`select pg_advisory_xact_lock(hashtext($1))`, [`${set.lock}:${schema.name}`]);
  await query(`create schema if not exists ${s}`, []);
  await query(
    `create table if not exists ${s}.${set.table} (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    [],
  );
  const done = new Set((await query(`select version from ${s}.${set.table}`, [])).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of set.migrations) {
    if (done.has(m.version)) continue;
    await query(m.sql(s), []);
    await query(`insert into ${s}.${set.table} (version, name) values ($1, $2)`, [m.version, m.name]);
    applied.push(m.version);
  }
  return applied;
}
