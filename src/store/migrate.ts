import type { Sql } from "postgres";
import { migrations } from "../migrations/index.ts";
import type { Schema } from "../schema.ts";

/**
 * Applies the migrations this schema lacks, in one transaction under an advisory lock, so any number of processes
 * can call it at once: the first applies, the others wait and find nothing to do. Returns the versions applied.
 */
export async function migrate(sql: Sql, schema: Schema): Promise<number[]> {
  const s = schema.quoted;
  return await sql.begin(async (tx) => {
    // "create ... if not exists" raises a NOTICE for everything that exists; postgres.js prints notices to stdout by
    // default, which would break the CLI worker's one-JSON-object-per-line log on every start.
    await tx.unsafe(`set local client_min_messages = warning`);
    await tx.unsafe(`select pg_advisory_xact_lock(hashtext($1))`, [`pg-dispatch:${schema.name}`]);
    await tx.unsafe(`create schema if not exists ${s}`);
    await tx.unsafe(
      `create table if not exists ${s}.migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`,
    );
    const done = new Set((await tx.unsafe(`select version from ${s}.migrations`)).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql(s));
      await tx.unsafe(`insert into ${s}.migrations (version, name) values ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  }) as number[];
}
