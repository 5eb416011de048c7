import { duration } from "../cli/format.ts";
import { type Check, type Finding, healthy, problem } from "./finding.ts";

/**
 * Transactions that hold back the xmin horizon of this database: sessions (running or idle in transaction) with a
 * transaction id or a snapshot older than the limit, and prepared transactions. While one is open, vacuum can remove
 * no row deleted or updated after it began — in the outbox or any other table — which is how a queue table bloats
 * into a death spiral. Only client sessions in this database count: other databases' sessions do not hold its
 * tables back, and vacuum's own snapshot is ignored by other vacuums.
 */
export const transactions: Check = async ({ sql }, { maxTransactionAgeMs }) => {
  const sessions = await sql.unsafe(`
select pid, usename as user, application_name as application, client_addr::text as client, state,
  greatest(age(backend_xid), age(backend_xmin)) as xid_age,
  (extract(epoch from now() - xact_start) * 1000)::bigint as age_ms
from pg_stat_activity
where pid <> pg_backend_pid() and backend_type = 'client backend' and datname = current_database()
  and (backend_xid is not null or backend_xmin is not null)
  and xact_start < now() - $1::bigint * interval '1 millisecond'
order by xact_start`, [maxTransactionAgeMs]);
  const prepared = await sql.unsafe(`
select gid, owner, age(transaction) as xid_age, (extract(epoch from now() - prepared) * 1000)::bigint as age_ms
from pg_prepared_xacts
where database = current_database() and prepared < now() - $1::bigint * interval '1 millisecond'
order by prepared`, [maxTransactionAgeMs]);
  const [self] = await sql.unsafe(`
select (select rolsuper from pg_roles where rolname = current_user) or pg_has_role(current_user, 'pg_read_all_stats', 'member') as sees_all,
  (select (extract(epoch from now() - min(xact_start)) * 1000)::bigint from pg_stat_activity
   where pid <> pg_backend_pid() and datname = current_database() and backend_type = 'client backend') as oldest_ms`);

  const findings: Finding[] = sessions.map((s) => {
    const idle = typeof s.state === "string" && s.state.startsWith("idle in transaction");
    const who = `Session ${s.pid} (user ${s.user ?? "?"}${s.application ? `, application "${s.application}"` : ""}${s.client ? `, from ${s.client}` : ""})`;
    const age = duration(Number(s.age_ms));
    const what = idle ? `has been idle in transaction for ${age}` : `has been in one transaction for ${age} (${s.state ?? "state unknown"})`;
    const fix = idle
      ? `Commit or roll back in that application. To end it now: SELECT pg_terminate_backend(${s.pid}); to stop it recurring: ALTER ROLE "${s.user}" SET idle_in_transaction_session_timeout = '1min';`
      : `Shorten that work or split it into smaller transactions. To stop it now: SELECT pg_cancel_backend(${s.pid}); (pg_terminate_backend if it stays); to bound it: ALTER ROLE "${s.user}" SET statement_timeout = '5min';`;
    return problem(
      "transactions",
      "error",
      `${who} ${what}, holding the xmin horizon ${s.xid_age} transactions back: vacuum can remove no row deleted or updated since, in the outbox or elsewhere in this database.`,
      fix,
      { pid: s.pid, user: s.user, application: s.application, client: s.client, state: s.state, ageMs: Number(s.age_ms), xidAge: Number(s.xid_age) },
    );
  });
  for (const p of prepared) {
    findings.push(problem(
      "transactions",
      "error",
      `Prepared transaction ${JSON.stringify(p.gid)} (owner ${p.owner}) has waited ${duration(Number(p.age_ms))} for its commit, holding the xmin horizon ${p.xid_age} transactions back.`,
      `Finish it from its transaction manager, or by hand: COMMIT PREPARED '${String(p.gid).replaceAll("'", "''")}'; or ROLLBACK PREPARED '${String(p.gid).replaceAll("'", "''")}';`,
      { gid: p.gid, owner: p.owner, ageMs: Number(p.age_ms), xidAge: Number(p.xid_age) },
    ));
  }
  if (!findings.length) {
    const oldest = self.oldest_ms == null ? "no transaction is open" : `the oldest open transaction began ${duration(Number(self.oldest_ms))} ago`;
    findings.push(healthy("transactions", `No transaction older than ${duration(maxTransactionAgeMs)} holds the xmin horizon (${oldest}).`, { oldestMs: self.oldest_ms == null ? null : Number(self.oldest_ms) }));
  }
  if (!self.sees_all) {
    findings.push(healthy(
      "transactions",
      "This role sees only its own sessions in pg_stat_activity; other roles' transactions were not checked. Run pg-dispatch doctor as a member of pg_monitor (GRANT pg_monitor TO ...) to see them all.",
    ));
  }
  return findings;
};
