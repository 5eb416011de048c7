// Database transactions per second while the worker has nothing to do, from pg_stat_database.xact_commit of the
// bench's own database (nothing else connects to it), minus the one transaction of the first reading itself.
// Autovacuum also commits there when it visits the database (about once a minute), so where the peer can count
// the statements it sends (pg-dispatch, through postgres.js's debug hook), that exact count is reported too.
import type { Sql } from "postgres";
import type { Peer } from "../peers/peer.ts";
import { sleep } from "../support.ts";

/** What the worker is waiting for while it is measured. */
export type IdleCase = "empty" | "uncommitted" | "none";

/**
 * Committed transactions per second over `seconds` with `peer`'s worker running (or none, the control), when the
 * queue is empty, or while another transaction holds an uncommitted publish (its NOTIFY pending until commit).
 * For the pending case pg-dispatch's safety sweep is moved past the window, so the figure shows what the pending
 * NOTIFY itself causes; the empty case keeps the default sweep (30 s: one tick of 2 statements may fall inside).
 */
export async function idleRate(
  sql: Sql,
  peer: Peer | null,
  seconds: number,
  idle: IdleCase,
  settleS = 11,
): Promise<{ commits: number; statements: number }> {
  let rollback: (() => Promise<void>) | null = null;
  if (peer) {
    await peer.reset();
    await peer.start(() => {}, idle === "uncommitted" ? { sweepIntervalMs: (settleS + seconds + 30) * 1000 } : {});
    if (idle === "uncommitted") rollback = await peer.holdUncommitted();
  }
  try {
    // Backends flush their statistics late (an idle backend can hold them ~10 s): let the start-up transactions
    // (reset, migrate, LISTEN, first claim) land before the first reading, or they count as idle traffic.
    await sleep(settleS * 1000);
    const a = await commits(sql);
    const sentBefore = peer?.statements?.() ?? NaN;
    await sleep(seconds * 1000);
    const sent = (peer?.statements?.() ?? NaN) - sentBefore;
    const b = await commits(sql);
    return { commits: (b - a - 1) / seconds, statements: sent / seconds };
  } finally {
    await rollback?.();
    await peer?.stop();
  }
}

async function commits(sql: Sql): Promise<number> {
  // Each autocommit statement reads a fresh statistics snapshot.
  const [row] = await sql`select xact_commit::float8 as n from pg_stat_database where datname = current_database()`;
  return row.n as number;
}
