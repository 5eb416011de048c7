import type { Query } from "./client.ts";
import { DispatchError } from "./errors.ts";
import type { Registry } from "./registry.ts";
import type { Schema } from "./schema.ts";

/** PostgreSQL's codes for a missing table (undefined_table) and a missing schema (invalid_schema_name). */
const MISSING = new Set(["42P01", "3F000"]);

/**
 * The error for using an outbox whose tables do not exist yet, naming the fix.
 *
 * @example
 * ```ts
 * throw notMigrated(schema("dispatch"));
 * ```
 */
export function notMigrated(schema: Schema, cause?: unknown): DispatchError {
  return new DispatchError(
    "not_migrated",
    `The outbox tables do not exist in schema "${schema.name}": run \`await outbox.migrate()\` (or \`pg-dispatch migrate\`) before publishing or starting a worker.`,
    { cause },
  );
}

/**
 * Wraps the outbox's own statements so that a missing table or schema surfaces as {@link notMigrated} rather than a
 * raw "relation does not exist". It costs nothing on success: the code is read only from an error already thrown.
 *
 * @example
 * ```ts
 * const query = explainMissingTables(toQuery(sql), schema("dispatch"));
 * ```
 */
export function explainMissingTables(query: Query, schema: Schema): Query {
  return async (text, params) => {
    try {
      return await query(text, params);
    } catch (err) {
      throw MISSING.has((err as { code?: unknown } | null)?.code as string) ? notMigrated(schema, err) : err;
    }
  };
}

/**
 * What `worker.start()` checks before it listens or claims anything, so a misconfigured worker fails once, at start,
 * with an error that names the fix, instead of logging the same failure on every claim:
 * at least one destination is registered (with none, every event would count as delivered to all of its zero
 * destinations and be marked published); the outbox tables exist; every destination that has a `start()` (Pub/Sub:
 * its client library loads) is ready.
 *
 * @example
 * ```ts
 * await preflight({ query, schema, registry });
 * ```
 */
export async function preflight(deps: { query: Query; schema: Schema; registry: Registry }): Promise<void> {
  const destinations = deps.registry.all();
  if (destinations.length === 0) {
    throw new DispatchError(
      "no_destinations",
      "The worker has no destinations: register handlers, webhooks or Pub/Sub topics with outbox.register(...) before " +
        "worker.start(); with none, every event would be marked published without being delivered anywhere.",
    );
  }
  const [row] = await deps.query(`select to_regclass($1) is not null as ready`, [`${deps.schema.quoted}.events`]);
  if (!row?.ready) throw notMigrated(deps.schema);
  for (const destination of destinations) {
    try {
      await destination.start?.();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new DispatchError("destination_unavailable", `Destination "${destination.name}" cannot start: ${reason}`, { cause: err });
    }
  }
}
