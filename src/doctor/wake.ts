import { type Check, healthy, type Patient, problem } from "./finding.ts";

/**
 * The outbox's wake-up mode: `outbox.wake` when the Outbox has one (a string, or an object with a `mode`), else
 * `notify`, the LISTEN/NOTIFY the worker uses without it.
 */
export function wakeMode(patient: Patient): string {
  const wake = patient.wake;
  if (typeof wake === "string") return wake;
  const mode = (wake as { mode?: unknown } | null | undefined)?.mode;
  return typeof mode === "string" ? mode : "notify";
}

/**
 * What the chosen wake-up mode needs from the server. `notify`: LISTEN reaching PostgreSQL and room in the
 * notification queue (the pooler and notification-queue checks test those). `logical`: `wal_level = logical`, a free
 * replication slot and a role allowed to replicate. `poll`: nothing.
 */
export const wake: Check = async (patient) => {
  const mode = wakeMode(patient);
  if (mode === "notify") {
    return [healthy("wake", "The worker wakes by LISTEN/NOTIFY: it needs LISTEN to reach PostgreSQL (the pooler check) and room in the notification queue (the notification-queue check).", { wake: mode })];
  }
  if (mode === "poll") return [healthy("wake", "The worker wakes by polling: it needs nothing more from the server.", { wake: mode })];
  if (mode !== "logical") {
    return [problem("wake", "warning", `Unknown wake-up mode ${JSON.stringify(mode)}: doctor cannot say what it needs.`, "Use wake: \"notify\", \"logical\" or \"poll\".", { wake: mode })];
  }
  const [s] = await patient.sql.unsafe(`
select current_setting('wal_level') as wal_level, current_setting('max_replication_slots')::int as max_slots,
  (select count(*)::int from pg_replication_slots) as used_slots,
  (select rolreplication or rolsuper from pg_roles where rolname = current_user) as can_replicate, current_user as role`);
  const details = { wake: mode, walLevel: s.wal_level, maxReplicationSlots: s.max_slots, usedSlots: s.used_slots, canReplicate: s.can_replicate };
  const findings = [];
  if (s.wal_level !== "logical") {
    findings.push(problem(
      "wake",
      "error",
      `wake: "logical" needs wal_level = logical; this server runs with wal_level = ${s.wal_level}, so the worker cannot decode new rows from the WAL.`,
      "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (managed services: rds.logical_replication = 1 on RDS, cloudsql.logical_decoding = on on Cloud SQL). Or use wake: \"notify\".",
      details,
    ));
  }
  if (s.used_slots >= s.max_slots) {
    findings.push(problem(
      "wake",
      "error",
      `wake: "logical" needs a replication slot; all ${s.max_slots} (max_replication_slots) are taken.`,
      "Drop an unused slot (see the replication-slots check) or raise max_replication_slots (restart needed).",
      details,
    ));
  }
  if (!s.can_replicate) {
    findings.push(problem(
      "wake",
      "error",
      `wake: "logical" needs a role allowed to replicate; ${s.role} is not.`,
      `ALTER ROLE "${s.role}" REPLICATION;`,
      details,
    ));
  }
  return findings.length ? findings : [healthy("wake", "The worker wakes by logical decoding: wal_level = logical, a replication slot is free and the role may replicate.", details)];
};
