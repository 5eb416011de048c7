import type { Query } from "../client.ts";
import type { StoreFilter } from "../filter.ts";
import type { Schema } from "../schema.ts";
import { filterConditions } from "./filter.ts";

/**
 * How many events a bulk retry with this filter would touch, counting at most $1 (null: all). The dashboard's
 * confirm page asks with a bound so that it answers at once even over a huge failed set ("more than 10,000");
 * a dry run asks for the exact figure. It reads `events_failed` only, like the retry itself.
 */
export function countRetryable(schema: Schema, filter: StoreFilter): { sql: string; params: unknown[] } {
  const where = filterConditions({ ...filter, status: "failed" }, 2, { failedDelivery: true });
  const sql = `
select count(*) as n from (
  select from ${schema.quoted}.events e
  where e.lease is null${where.sql.map((c) => `\n    and ${c}`).join("")}
  limit $1::bigint
) x`;
  return { sql, params: where.params };
}

/** Counts retryable events up to `max` (null: no bound); see {@link countRetryable}. */
export async function countRetry(query: Query, schema: Schema, filter: StoreFilter, max: number | null): Promise<number> {
  const { sql, params } = countRetryable(schema, filter);
  const [row] = await query(sql, [max, ...params]);
  return Number(row?.n ?? 0);
}
