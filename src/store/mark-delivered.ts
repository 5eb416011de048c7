import type { TransactionSql } from "postgres";
import type { StoredDelivery } from "../record.ts";
import type { Schema } from "../schema.ts";

/**
 * Records one delivery as delivered inside a transactional handler's own transaction, so the handler's writes and
 * the mark commit together: if the worker dies before it writes the outcome, the next claim finds the delivery done
 * and does not run the handler again. Only while this worker's lease holds: a worker that lost the event to another
 * (it stalled past its lease) must not commit its handler's writes.
 */
export function markDeliveredStatement(schema: Schema): string {
  return `
update ${schema.quoted}.events set deliveries = jsonb_set(deliveries, array[$3::text], $4::text::jsonb)
where seq = $1 and lease = $2::uuid
returning seq`;
}

/** Marks the delivery; false when the lease is no longer this worker's. */
export async function markDelivered(tx: TransactionSql, schema: Schema, seq: string, lease: string, name: string, state: StoredDelivery): Promise<boolean> {
  const rows = await tx.unsafe(markDeliveredStatement(schema), [seq, lease, name, JSON.stringify(state)]);
  return rows.length > 0;
}
