import type { StoreFilter } from "../filter.ts";

/**
 * The WHERE conditions of a filter, over the alias `e`, and their parameters numbered from `first`. Only the
 * filters that are set appear in the text, so each combination is its own prepared statement with its own plan:
 * `$1 is null or ...` conditions would leave the planner one generic plan that can use no partial index. The status
 * is spliced as a literal (it is one of four checked words) so that `status = 'failed'` can use `events_failed`.
 */
export function filterConditions(
  f: StoreFilter,
  first: number,
  options: { failedDelivery?: boolean } = {},
): { sql: string[]; params: unknown[]; destination: string | null } {
  const sql: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown, cast: string): string => {
    params.push(value);
    return `$${first + params.length - 1}::${cast}`;
  };
  if (f.status) sql.push(`e.status = '${f.status}'`);
  if (f.type !== null) sql.push(`e.type = ${param(f.type, "text")}`);
  if (f.typePrefix !== null) sql.push(`starts_with(e.type, ${param(f.typePrefix, "text")})`);
  if (f.routed !== null) sql.push(`e.type ~ ${param(f.routed, "text")}`);
  if (f.source !== null) sql.push(`e.source = ${param(f.source, "text")}`);
  if (f.id !== null) sql.push(`e.id = ${param(f.id, "text")}`);
  if (f.from !== null) sql.push(`e.created_at >= ${param(f.from, "timestamptz")}`);
  if (f.to !== null) sql.push(`e.created_at < ${param(f.to, "timestamptz")}`);
  const destination = f.destination === null ? null : param(f.destination, "text");
  if (f.error !== null) {
    const error = param(f.error, "text");
    sql.push(`exists (select from jsonb_each(e.deliveries) d where d.value->>'status' = 'failed' and d.value->>'lastError' = ${error}${destination ? ` and d.key = ${destination}` : ""})`);
  } else if (destination) {
    // For retries the delivery to that destination must have failed; for browsing, it need only exist.
    sql.push(options.failedDelivery
      ? `e.deliveries -> ${destination} ->> 'status' = 'failed'`
      : `e.deliveries -> ${destination} is not null`);
  }
  return { sql, params, destination };
}
