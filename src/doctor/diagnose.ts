import { autovacuum } from "./autovacuum.ts";
import { bloat } from "./bloat.ts";
import { type Check, DEFAULT_DOCTOR, type DoctorOptions, type Finding, type Patient, problem } from "./finding.ts";
import { migrations } from "./migrations.ts";
import { notificationQueue } from "./notifications.ts";
import { pooler } from "./pooler.ts";
import { replicationSlots } from "./slots.ts";
import { transactions } from "./transactions.ts";
import { wake } from "./wake.ts";

export type { DoctorOptions, Finding, Patient, Severity } from "./finding.ts";

/** Every check, in the order the report lists them. */
export const CHECKS: [string, Check][] = [
  ["migrations", migrations],
  ["autovacuum", autovacuum],
  ["transactions", transactions],
  ["replication-slots", replicationSlots],
  ["notification-queue", notificationQueue],
  ["wake", wake],
  ["pooler", pooler],
  ["bloat", bloat],
];

/**
 * Runs every check against the outbox's database and returns what each found, one after another (the pool may be
 * small). A check that cannot run (a permission, an old server) becomes a warning naming why, never a crash: the
 * other checks still report.
 *
 * @example
 * ```ts
 * const findings = await diagnose(outbox, { maxTransactionAgeMs: 60_000 });
 * for (const f of findings.filter((f) => !f.ok)) logger.error(f.message, { check: f.check, fix: f.fix });
 * ```
 */
export async function diagnose(patient: Patient, options: DoctorOptions = {}): Promise<Finding[]> {
  const settings = { ...DEFAULT_DOCTOR, ...options };
  const findings: Finding[] = [];
  for (const [name, check] of CHECKS) {
    try {
      findings.push(...(await check(patient, settings)));
    } catch (err) {
      findings.push(problem(name, "warning", `The ${name} check could not run: ${err instanceof Error ? err.message : String(err)}.`, cannotRun(err)));
    }
  }
  return findings;
}

/** What to do about a check that could not run: a missing privilege has a known remedy; anything else, its message. */
function cannotRun(err: unknown): string {
  return (err as { code?: unknown } | null)?.code === "42501"
    ? "Run pg-dispatch doctor as a role that may read the statistics views and catalogs (a member of pg_monitor)."
    : "Fix what the message names, then run pg-dispatch doctor again.";
}
