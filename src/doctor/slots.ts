import { type Check, type Finding, healthy, mebibytes, problem } from "./finding.ts";

/**
 * Replication slots that hold the xmin horizon or pile up WAL. A slot's `xmin` (a standby's hot_standby_feedback)
 * holds back vacuum of every table, the outbox included; a logical slot's `catalog_xmin` holds back the system
 * catalogs. A slot nobody consumes keeps both, and the WAL since its restart point, until it is dropped: a consumer
 * that went away for good is the usual cause.
 */
export const replicationSlots: Check = async ({ sql }) => {
  const slots = await sql.unsafe(`
select slot_name as name, slot_type as type, database, active, xmin::text as xmin, catalog_xmin::text as catalog_xmin,
  age(xmin) as xmin_age, age(catalog_xmin) as catalog_xmin_age,
  pg_wal_lsn_diff(case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end, restart_lsn)::bigint as retained_bytes
from pg_replication_slots
order by slot_name`);
  const findings: Finding[] = [];
  for (const s of slots) {
    const details = {
      slot: s.name,
      type: s.type,
      active: s.active,
      xminAge: s.xmin_age == null ? null : Number(s.xmin_age),
      catalogXminAge: s.catalog_xmin_age == null ? null : Number(s.catalog_xmin_age),
      retainedWalBytes: s.retained_bytes == null ? null : Number(s.retained_bytes),
    };
    if (s.active) continue;
    const holds = [
      s.xmin != null ? `the xmin horizon ${s.xmin_age} transactions back (vacuum can clean no table, the outbox included)` : null,
      s.catalog_xmin != null ? `the catalog horizon ${s.catalog_xmin_age} transactions back` : null,
      s.retained_bytes != null ? `${mebibytes(Number(s.retained_bytes))} of WAL` : null,
    ].filter(Boolean);
    const name = String(s.name);
    findings.push(problem(
      "replication-slots",
      s.xmin != null ? "error" : "warning",
      `Replication slot "${name}" (${s.type}${s.database ? `, database ${s.database}` : ""}) has no consumer connected${holds.length ? ` and holds ${holds.join(", ")}` : ""}; it keeps holding until it is dropped or its consumer returns.`,
      `If its consumer is gone for good: SELECT pg_drop_replication_slot('${name.replaceAll("'", "''")}'); otherwise bring the consumer (standby, CDC connector, wake: "logical" worker) back. To bound the damage: max_slot_wal_keep_size.`,
      details,
    ));
  }
  if (!findings.length) {
    findings.push(healthy(
      "replication-slots",
      slots.length ? `All ${slots.length} replication slots have a consumer connected.` : "No replication slots.",
      { slots: slots.length },
    ));
  }
  return findings;
};
