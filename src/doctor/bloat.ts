import type { Sql } from "postgres";
import { type Check, type Finding, healthy, mebibytes, problem, qualified } from "./finding.ts";

/**
 * Dead rows and wasted space in the outbox's tables and indexes. The statistics' dead and live row counts are always
 * there and cost nothing; when the pgstattuple extension is installed, its approximate table scan and `pgstatindex`
 * measure free space and index leaf density too (the figures vacuum alone cannot give back). Those reads are bounded
 * by a statement timeout: a doctor must not become the load it diagnoses.
 */
export const bloat: Check = async ({ sql, schema }) => {
  const tables = await sql.unsafe(`
select relid::int8 as relid, relname as name, n_live_tup::int8 as live, n_dead_tup::int8 as dead,
  greatest(last_vacuum, last_autovacuum) as vacuumed, pg_table_size(relid)::int8 as table_bytes, pg_indexes_size(relid)::int8 as index_bytes
from pg_stat_user_tables where schemaname = $1 and relname <> 'migrations'
order by relname`, [schema.name]);
  if (tables.length === 0) return [healthy("bloat", `Schema "${schema.name}" has no outbox tables to measure yet.`, { pgstattuple: false })];
  const findings: Finding[] = [];
  for (const t of tables) {
    const live = Number(t.live);
    const dead = Number(t.dead);
    const share = dead / Math.max(1, live + dead);
    if (dead < MIN_DEAD || share < WARN_SHARE) continue;
    const table = qualified(schema, t.name as string);
    const vacuumed = t.vacuumed ? `last vacuumed ${(t.vacuumed as Date).toISOString()}` : "never vacuumed";
    findings.push(problem(
      "bloat",
      share >= ERROR_SHARE ? "error" : "warning",
      `${table} holds ${dead} dead rows beside ${live} live ones (${Math.round(share * 100)}% dead, ${vacuumed}); table ${mebibytes(t.table_bytes)}, indexes ${mebibytes(t.index_bytes)}. Claims scan past dead rows and index entries.`,
      `VACUUM (ANALYZE) ${table}; then find what kept autovacuum from it (the autovacuum, transactions and replication-slots checks).`,
      { table: t.name, live, dead, deadShare: share, tableBytes: Number(t.table_bytes), indexBytes: Number(t.index_bytes) },
    ));
  }
  const [ext] = await sql.unsafe(`select extnamespace::regnamespace::text as schema from pg_extension where extname = 'pgstattuple'`);
  if (ext) findings.push(...(await measured(sql, ext.schema as string, schema.name)));
  const where = ext ? "" : " (install pgstattuple to measure free space and index density too)";
  if (!findings.some((f) => !f.ok)) {
    findings.unshift(healthy("bloat", `The outbox's tables carry few dead rows${where}.`, { pgstattuple: !!ext }));
  }
  return findings;
};

/** Free space in the tables and leaf density of the b-tree indexes, by pgstattuple. */
async function measured(sql: Sql, ext: string, schemaName: string): Promise<Finding[]> {
  const rows = await sql.begin(async (tx) => {
    await tx.unsafe(`set local statement_timeout = '10s'`);
    return await tx.unsafe(`
select c.relname as name, 'table' as kind, pg_relation_size(c.oid)::int8 as bytes, s.approx_free_percent::float8 as free_percent, null::float8 as density
from pg_class c join pg_namespace n on n.oid = c.relnamespace, lateral ${ext}.pgstattuple_approx(c.oid) s
where n.nspname = $1 and c.relkind = 'r' and c.relname <> 'migrations' and pg_relation_size(c.oid) >= $2
union all
select c.relname, 'index', pg_relation_size(c.oid)::int8, null, s.avg_leaf_density::float8
from pg_class c join pg_namespace n on n.oid = c.relnamespace join pg_am a on a.oid = c.relam, lateral ${ext}.pgstatindex(c.oid::regclass) s
where n.nspname = $1 and c.relkind = 'i' and a.amname = 'btree' and pg_relation_size(c.oid) >= $2`, [schemaName, MIN_MEASURED_BYTES]);
  });
  const out: Finding[] = [];
  for (const r of rows) {
    const name = `"${schemaName}"."${r.name}"`;
    if (r.kind === "table" && Number(r.free_percent) >= FREE_PERCENT) {
      out.push(problem(
        "bloat",
        "warning",
        `${name} is ${Math.round(Number(r.free_percent))}% free space (${mebibytes(r.bytes)}): vacuum made it reusable, but the file does not shrink.`,
        `If it will not fill again: pg_repack, or VACUUM FULL ${name}; (locks the table while it rewrites it).`,
        { table: r.name, bytes: Number(r.bytes), freePercent: Number(r.free_percent) },
      ));
    }
    if (r.kind === "index" && Number(r.density) < LEAF_DENSITY) {
      out.push(problem(
        "bloat",
        "warning",
        `Index ${name} is bloated: its leaf pages are ${Math.round(Number(r.density))}% full (${mebibytes(r.bytes)}).`,
        `REINDEX INDEX CONCURRENTLY ${name};`,
        { index: r.name, bytes: Number(r.bytes), leafDensity: Number(r.density) },
      ));
    }
  }
  return out;
}

/** Dead rows below this are never worth a word; above it, a share of the table. */
const MIN_DEAD = 1_000;
const WARN_SHARE = 0.2;
const ERROR_SHARE = 0.5;
/** pgstattuple figures only for relations of at least this size (a small table's free space is noise). */
const MIN_MEASURED_BYTES = 8 * 1_048_576;
const FREE_PERCENT = 50;
const LEAF_DENSITY = 50;
