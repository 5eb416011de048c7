import { migrations as known } from "../migrations/index.ts";
import { type Check, healthy, problem } from "./finding.ts";

/**
 * The schema's applied migrations against the ones this version of pg-dispatch ships: a worker on a schema that lacks
 * one fails on its first claim or outcome. Versions the schema has but this code does not know mean a newer
 * pg-dispatch migrated it.
 */
export const migrations: Check = async ({ sql, schema }) => {
  const [{ present }] = await sql.unsafe(`select to_regclass($1) is not null as present`, [`${schema.quoted}.migrations`]);
  const all = known.map((m) => `${m.version} ${m.name}`).join(", ");
  if (!present) {
    return [problem(
      "migrations",
      "error",
      `Schema "${schema.name}" has no outbox tables: no migration has run (this version needs ${all}).`,
      `pg-dispatch migrate --schema ${schema.name} (or await outbox.migrate() at start-up).`,
      { pending: known.map((m) => m.version), unknown: [] },
    )];
  }
  const applied = new Set((await sql.unsafe(`select version from ${schema.quoted}.migrations`)).map((r) => Number(r.version)));
  const pending = known.filter((m) => !applied.has(m.version));
  const unknown = [...applied].filter((v) => !known.some((m) => m.version === v)).sort((a, b) => a - b);
  const details = { applied: [...applied].sort((a, b) => a - b), pending: pending.map((m) => m.version), unknown };
  const findings = [];
  if (pending.length) {
    findings.push(problem(
      "migrations",
      "error",
      `Schema "${schema.name}" lacks ${pending.length === 1 ? "migration" : "migrations"} ${pending.map((m) => `${m.version} (${m.name})`).join(", ")}: workers of this version fail until ${pending.length === 1 ? "it is" : "they are"} applied.`,
      `pg-dispatch migrate --schema ${schema.name} (or await outbox.migrate() at start-up); it is safe while workers run.`,
      details,
    ));
  }
  if (unknown.length) {
    findings.push(problem(
      "migrations",
      "warning",
      `Schema "${schema.name}" has migrations this version of pg-dispatch does not know (${unknown.join(", ")}): a newer version migrated it.`,
      "Upgrade pg-dispatch where this runs to the version that migrated the schema.",
      details,
    ));
  }
  return findings.length ? findings : [healthy("migrations", `Schema "${schema.name}" has every migration this version ships (${all}).`, details)];
};
