/**
 * A PostgreSQL array literal (`{"a","b",NULL}`), sent as one text parameter and cast in SQL (`$1::text::text[]`).
 * Text goes through every client the outbox joins (postgres.js, node-postgres, Bun SQL) the same way, whatever each
 * does with a JavaScript array; and `unnest` over arrays is the cheapest way to hand PostgreSQL many rows.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | null>): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ",";
    if (v === null) out += "NULL";
    else if (typeof v === "number") out += v;
    else out += `"${SPECIAL.test(v) ? v.replace(ESCAPE, "\\$&") : v}"`;
  }
  return out + "}";
}

const SPECIAL = /[\\"]/;
const ESCAPE = /[\\"]/g;
