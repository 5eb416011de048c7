import type { Sql } from "postgres";
import { DispatchError } from "./errors.ts";

/** A row as the database returns it. */
export type Row = Record<string, unknown>;

/** Runs one parameterised statement and resolves with its rows. The store only ever talks to this. */
export type Query = (text: string, params: unknown[]) => Promise<Row[]>;

/**
 * A database client the outbox can join: a postgres.js `Sql` or `TransactionSql`, or any client with
 * `unsafe(text, params)` (Bun SQL) or `query(text, params)` (node-postgres, PGlite).
 */
export type Client =
  | Sql
  | { unsafe(text: string, params?: unknown[]): PromiseLike<unknown> }
  | { query(text: string, params?: unknown[]): PromiseLike<unknown> };

/**
 * Turns any supported client into a {@link Query}. postgres.js statements are prepared, so repeated statements
 * skip parsing and planning.
 */
export function toQuery(client: Client): Query {
  const c = client as Record<string, unknown>;
  if (typeof c.unsafe === "function") {
    const unsafe = c.unsafe as (t: string, p: unknown[], o?: unknown) => PromiseLike<Row[]>;
    // postgres.js instances carry `options`; Bun SQL does not know the third argument, and ignores it.
    return async (text, params) => {
      const rows = await unsafe.call(client, text, params, { prepare: true });
      return Array.isArray(rows) ? rows : Array.from(rows);
    };
  }
  if (typeof c.query === "function") {
    const query = c.query as (t: string, p: unknown[]) => PromiseLike<{ rows?: Row[] } | Row[]>;
    return async (text, params) => {
      const result = await query.call(client, text, params);
      return Array.isArray(result) ? result : (result.rows ?? []);
    };
  }
  throw new DispatchError(
    "invalid_option",
    "The tx option must be a postgres.js sql or transaction, or a client with query(text, params) or unsafe(text, params).",
  );
}
