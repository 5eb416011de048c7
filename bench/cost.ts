// What a publish figure costs per event, beside its rate: this process's CPU (process.cpuUsage, user + system) and
// the database's CPU, read from /proc for the server processes serving the bench's database (the server runs on this
// machine; other databases' backends are not counted). Both are divided by the events committed in the window. With
// no server process readable (a remote server, a container), the database's figure is NaN, printed as "-".
import { readFileSync } from "node:fs";
import type { Sql } from "postgres";

/** CPU per event in microseconds, for the process and for the database backends. */
export interface CostPerEvent {
  nodeUs: number;
  dbUs: number;
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
export const TICKS = 100;

/** Starts and stops one measurement window. */
export interface CostMeter {
  start(): Promise<void>;
  stop(events: number): Promise<CostPerEvent>;
}

/** A meter over `sql`'s database: its backends are found by database name at start and stop. */
export function costMeter(sql: Sql): CostMeter {
  let cpu = process.cpuUsage();
  let before = new Map<number, number>();
  async function backends(): Promise<Map<number, number>> {
    const rows = await sql`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    const ticks = new Map<number, number>();
    for (const { pid } of rows) {
      const t = processTicks(pid as number);
      if (t !== null) ticks.set(pid as number, t);
    }
    return ticks;
  }
  return {
    async start() {
      before = await backends();
      cpu = process.cpuUsage();
    },
    async stop(events) {
      const used = process.cpuUsage(cpu);
      const after = await backends();
      let ticks = 0;
      // A backend that connected during the window counts from zero; one that left is lost (none do here).
      for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
      // No backend readable in /proc (a server on another machine, or in a container): unknown, not zero.
      const dbUs = after.size === 0 ? Number.NaN : ((ticks / TICKS) * 1e6) / events;
      return { nodeUs: (used.user + used.system) / events, dbUs };
    },
  };
}

/** A process's CPU so far (utime + stime) in clock ticks ({@link TICKS} a second), or null when it is gone. */
export function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
