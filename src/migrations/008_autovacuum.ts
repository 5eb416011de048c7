/**
 * Storage that stays small. Every event is inserted, updated at least twice (claimed, finished) and deleted by
 * retention, so the events table makes dead row versions at several times its live size; PostgreSQL's default
 * autovacuum trigger (20% of the table dead) lets it bloat to a multiple of its live size before a vacuum runs. These
 * per-table settings vacuum after 2% (and 1,000 rows) and take no cost-based naps on these two tables, so a
 * vacuum keeps up with a busy outbox. The attempt history is append-and-delete: the same. They apply only where
 * autovacuum is on (`pg-dispatch doctor` says when it is not); a transaction held open anywhere in the cluster still
 * pins what any vacuum may remove (the doctor names such sessions).
 */
export default function (s: string): string {
  const settings = `autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0`;
  return `
alter table ${s}.events set (${settings});
alter table ${s}.attempts set (${settings});`;
}
