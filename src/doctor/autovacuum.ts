import { type Check, type Finding, healthy, problem, qualified } from "./finding.ts";

/**
 * Whether autovacuum will clean the outbox's tables: it must be on for the server (with `track_counts`, which it
 * reads), not turned off per table, and its trigger (threshold + scale factor x rows) must not let dead rows pile up.
 * Every delivered, retried or deleted event leaves a dead row; a queue table churns through its whole size all day,
 * so the default 20% scale factor lets a large one carry a fifth of itself in dead rows before anything is cleaned.
 */
export const autovacuum: Check = async ({ sql, schema }) => {
  const [server] = await sql.unsafe(`
select current_setting('autovacuum') = 'on' as on, current_setting('track_counts') = 'on' as track_counts,
  current_setting('autovacuum_vacuum_threshold')::float8 as threshold,
  current_setting('autovacuum_vacuum_scale_factor')::float8 as scale_factor`);
  // reltuples is -1 before the first vacuum or analyze; the statistics' live count stands in then.
  const tables = await sql.unsafe(`
select c.relname as name, greatest(c.reltuples, coalesce(s.n_live_tup, 0), 0)::float8 as rows, coalesce(c.reloptions, '{}') as options
from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_stat_user_tables s on s.relid = c.oid
where n.nspname = $1 and c.relkind = 'r' and c.relname <> 'migrations'
order by c.relname`, [schema.name]);
  const findings: Finding[] = [];
  if (!server.on || !server.track_counts) {
    const setting = server.on ? "track_counts" : "autovacuum";
    const names = tables.map((t) => qualified(schema, t.name as string)).join(", ");
    // Before the first migration there is nothing to vacuum by hand (the migrations check says so).
    const meanwhile = names ? ` Until then, run VACUUM (ANALYZE) ${names}; every few minutes from a scheduler.` : "";
    findings.push(problem(
      "autovacuum",
      "error",
      `Autovacuum cannot run on this server (${setting} = off): the dead rows every delivered, retried and deleted event leaves are never cleaned up, so the outbox's tables and indexes grow and claims slow down.`,
      `Turn it on: ALTER SYSTEM SET ${setting} = on; SELECT pg_reload_conf(); (or ${setting} = on in postgresql.conf; on a managed service, in its parameter group).${meanwhile}`,
      { setting, value: "off" },
    ));
  }
  for (const t of tables) {
    const name = t.name as string;
    const table = qualified(schema, name);
    const options = Object.fromEntries((t.options as string[]).map((o) => o.split(/=(.*)/s, 2) as [string, string]));
    const enabled = options.autovacuum_enabled;
    if (enabled !== undefined && ["false", "off", "no", "0"].includes(enabled.toLowerCase())) {
      findings.push(problem(
        "autovacuum",
        "error",
        `Autovacuum is turned off for ${table} (autovacuum_enabled = ${enabled}): its dead rows are never cleaned up, whatever the server setting.`,
        `ALTER TABLE ${table} RESET (autovacuum_enabled);`,
        { table: name, autovacuum_enabled: enabled },
      ));
      continue;
    }
    const threshold = Number(options.autovacuum_vacuum_threshold ?? server.threshold);
    const scale = Number(options.autovacuum_vacuum_scale_factor ?? server.scale_factor);
    const rows = Number(t.rows);
    const trigger = Math.round(threshold + scale * rows);
    if (trigger > Math.max(LAX_DEAD_ROWS, LAX_SHARE * rows)) {
      findings.push(problem(
        "autovacuum",
        "warning",
        `Autovacuum is too lax for ${table}: with about ${rows.toFixed(0)} rows it waits for ${trigger} dead rows (threshold ${threshold} + scale factor ${scale} x rows) before it vacuums a table that churns through all its rows.`,
        `ALTER TABLE ${table} SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000);`,
        { table: name, rows, threshold, scaleFactor: scale, deadRowsBeforeVacuum: trigger },
      ));
    }
  }
  if (!findings.length) {
    findings.push(healthy("autovacuum", `Autovacuum is on and watches the outbox's ${tables.length} tables closely enough.`));
  }
  return findings;
};

/** Dead rows a vacuum may wait for whatever the table's size, and the share of its rows beyond that. */
const LAX_DEAD_ROWS = 10_000;
const LAX_SHARE = 0.05;
