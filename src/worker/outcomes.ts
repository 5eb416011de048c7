import type { Query } from "../client.ts";
import type { Logger } from "../logger.ts";
import type { Schema } from "../schema.ts";
import { complete, type Outcome } from "../store/complete.ts";

/** The lastError stored in place of one the database refused. */
export const UNSTORABLE_ERROR = "The error of this attempt could not be stored.";

/**
 * Writes a batch of outcomes in one statement. When the database refuses a value in it (a data error that no check
 * before it foresaw), the batch is written row by row, so one bad outcome cannot stop every other from being
 * recorded; a row still refused is written with its error texts replaced by {@link UNSTORABLE_ERROR}, and one refused
 * even then is logged and left to its lease. A connection error is thrown, for the caller to retry.
 *
 * @example
 * ```ts
 * await writeOutcomes(query, schema, outcomes, lease, logger);
 * ```
 */
export async function writeOutcomes(query: Query, schema: Schema, batch: Outcome[], lease: string, logger: Logger): Promise<void> {
  try {
    return await complete(query, schema, batch, lease);
  } catch (err) {
    if (!refusedValue(err)) throw err;
    logger.error("the database refused an outcome; writing the batch row by row", { error: err, count: batch.length });
  }
  for (const outcome of batch) {
    try {
      await complete(query, schema, [outcome], lease);
      continue;
    } catch (err) {
      if (!refusedValue(err)) throw err;
      logger.error("the database refused an outcome; storing it with a placeholder error", { error: err, seq: outcome.seq });
    }
    try {
      await complete(query, schema, [withPlaceholder(outcome)], lease);
    } catch (err) {
      if (!refusedValue(err)) throw err;
      logger.error("the database refused an outcome even with a placeholder; its lease will bring it back", { error: err, seq: outcome.seq });
    }
  }
}

/** A data error (SQLSTATE class 22) or a limit (class 54): the statement's values were refused, not the connection. */
function refusedValue(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("54"));
}

/** The outcome with every error text replaced by {@link UNSTORABLE_ERROR}; what was delivered stays recorded. */
function withPlaceholder(outcome: Outcome): Outcome {
  const deliveries: Outcome["deliveries"] = Object.create(null);
  for (const [name, d] of Object.entries(outcome.deliveries)) {
    deliveries[name] = d.lastError == null ? d : { ...d, lastError: UNSTORABLE_ERROR };
  }
  const attempts = outcome.attempts.map((a) => (a.error == null ? a : { ...a, error: UNSTORABLE_ERROR }));
  return { ...outcome, deliveries, attempts, last_error: outcome.last_error == null ? null : UNSTORABLE_ERROR };
}
