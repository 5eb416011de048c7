/**
 * A PostgreSQL array literal (`{"a","b",NULL}`) for a batch of values, sent as one text parameter and cast in SQL
 * (`$1::text::text[]`), so that a batch reaches `unnest` the same way through every client the outbox accepts
 * (postgres.js, node-postgres, Bun SQL, PGlite), whatever each does with JavaScript arrays.
 *
 * @example
 * ```ts
 * await query("select * from unnest($1::text::bigint[])", [pgArray(["1", "2", null])]);
 * ```
 */
export function pgArray(values: readonly (string | number | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ",";
    out += v === null ? "NULL" : `"${String(v).replace(/[\\"]/g, "\\$&")}"`;
  }
  return out + "}";
}
