import type { Sql, TransactionSql } from "postgres";
import { type Query, toQuery } from "../../src/client.ts";
import { DispatchError } from "../../src/errors.ts";

/**
 * A node-postgres client checked out of a `Pool` for one transaction: what a handler gets as `tx` when the receiver
 * was given a Pool. (Structural, so the receiver's types do not need `pg` installed.)
 */
export interface PgTransaction {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** A node-postgres `Pool`, or anything shaped like one: `connect()` resolves with a client to `query` and `release`. */
export interface PgPool {
  connect(): Promise<PgTransaction & { release(err?: Error | boolean): void }>;
}

/**
 * A client the receiver can open transactions on: a postgres.js `Sql` (`sql.begin`), a node-postgres `Pool`
 * (`connect`, `BEGIN` ... `COMMIT`), or Bun SQL (`sql.begin`, like postgres.js).
 */
// deno-lint-ignore no-explicit-any -- any postgres.js Sql, whatever its custom types, and Bun SQL's untyped tx
export type ReceiverClient = Sql<any> | PgPool | { begin(fn: (tx: any) => Promise<unknown>): Promise<unknown> };

/** What the handler gets as `tx` for a given client: postgres.js's TransactionSql, a pool client, or Bun's tx. */
export type TransactionOf<C> = C extends Sql<infer T> ? TransactionSql<T>
  : C extends PgPool ? PgTransaction
  : C extends { begin(fn: (tx: infer T) => Promise<unknown>): Promise<unknown> } ? T
  : never;

/** Runs `fn` in a new transaction: commits when it resolves, rolls back when it throws (and rethrows). */
export type Begin = <R>(fn: (query: Query, tx: unknown) => Promise<R>) => Promise<R>;

/**
 * Makes the transaction opener for a client, or throws a DispatchError (`invalid_option`) saying which clients work.
 *
 * @example
 * ```ts
 * const begin = transactions(sql);
 * await begin(async (query) => query("insert into seen values ($1)", [id]));
 * ```
 */
export function transactions(client: ReceiverClient): Begin {
  const c = client as Record<string, unknown> | null;
  if (typeof c?.begin === "function") {
    const begin = c.begin as (fn: (tx: unknown) => Promise<unknown>) => Promise<unknown>;
    return async (fn) => await begin.call(client, (tx) => fn(toQuery(tx as never), tx)) as never;
  }
  if (typeof c?.connect === "function") {
    const pool = client as PgPool;
    return async (fn) => {
      const tx = await pool.connect();
      let broken: Error | undefined;
      try {
        await tx.query("begin");
        const result = await fn(toQuery(tx), tx);
        await tx.query("commit");
        return result;
      } catch (err) {
        // A client whose rollback fails is in an unknown state: release it as broken so the pool closes it.
        await tx.query("rollback").catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
        throw err;
      } finally {
        tx.release(broken);
      }
    };
  }
  throw new DispatchError(
    "invalid_option",
    "The receiver's sql must be a postgres.js sql, Bun SQL, or a node-postgres Pool (not a single Client: the " +
      "receiver opens a transaction per request and needs a connection of its own for each).",
    { field: "sql" },
  );
}
