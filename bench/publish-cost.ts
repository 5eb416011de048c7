// CPU per published event, measured where load moves it least: one connection, one publish at a time, so no lock
// queue or scheduler between producers decides the figure; this process's CPU (process.cpuUsage) and its backend's
// (utime + stime from /proc, the server on this machine), per event, for publishEvent and publishEvents (chunks of
// 1,000). Also the JavaScript alone: the same calls through a client that answers at once, no database.
// Builds alternate round by round; medians over the rounds.
//   npm run bench:publish-cost                                         this build
//   npm run bench:publish-cost -- --baseline=/path/to/other/dist/mod.js   and another build, side by side
//   options: --rounds=N (default 9), --single=N events per round (2,000), --bulk=N events per round (20,000), --db=NAME
import postgres, { type Sql } from "postgres";
import * as current from "../mod.ts";
import { processTicks, TICKS } from "./cost.ts";
import { benchDatabase } from "./db.ts";
import { median, payload, quiet } from "./support.ts";

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const rounds = Number(arg("rounds") ?? 9);
const singles = Number(arg("single") ?? 2_000);
const bulk = Number(arg("bulk") ?? 20_000);
const CHUNK = 1000;

type OutboxModule = typeof current;
interface Build {
  name: string;
  sql: Sql;
  outbox: current.Outbox;
  /** The same Outbox class over a client that answers every statement at once. */
  offline: current.Outbox;
  pid: number;
}
type Figure = "single" | "bulk" | "single, JavaScript only" | "bulk, JavaScript only";

const db = await benchDatabase(arg("db") ?? "pg_dispatch_bench_publish_cost");
// What every publish statement reads back, for the client that answers at once: one row, every event new.
const answer = { rows: [{ created_at: new Date(), notified: true, count: CHUNK, keys: null }] };
const instant = { query: () => Promise.resolve(answer) };

async function build(name: string, m: OutboxModule): Promise<Build> {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const schema = `bench_cost_${name}`;
  const outbox = new m.Outbox({ sql, schema, logger: quiet });
  await sql.unsafe(`drop schema if exists ${schema} cascade`);
  await outbox.migrate();
  const [{ pid }] = await sql`select pg_backend_pid() as pid`;
  return { name, sql, outbox, offline: new m.Outbox({ sql, schema, logger: quiet }), pid: pid as number };
}

const builds = [await build("this", current)];
const baseline = arg("baseline");
if (baseline) builds.push(await build("baseline", (await import(baseline)) as OutboxModule));

let n = 0;
const event = (i: number) => ({ type: "user.created", source: "bench", id: `c${++n}`, data: payload(i) });
const chunk = (): ReturnType<typeof event>[] => Array.from({ length: CHUNK }, (_, k) => event(k));

/** CPU per event of `run` (called `times` times, `per` events each): this process's and the backend's, in µs. */
async function cost(b: Build, times: number, per: number, run: () => Promise<unknown>): Promise<{ node: number; db: number }> {
  for (let k = 0; k < Math.min(20, times); k++) await run(); // warm: compiled code, prepared statements
  const ticks = backendTicks(b.pid);
  const cpu = process.cpuUsage();
  for (let k = 0; k < times; k++) await run();
  const used = process.cpuUsage(cpu);
  const events = times * per;
  return { node: (used.user + used.system) / events, db: ((backendTicks(b.pid) - ticks) / TICKS) * 1e6 / events };
}

function backendTicks(pid: number): number {
  const ticks = processTicks(pid);
  if (ticks === null) throw new Error(`bench: no /proc/${pid}: the server must run on this machine`);
  return ticks;
}

const samples = new Map<string, Array<{ node: number; db: number }>>();
const keep = (b: Build, figure: Figure, x: { node: number; db: number }): void => {
  const key = `${figure}|${b.name}`;
  (samples.get(key) ?? samples.set(key, []).get(key)!).push(x);
};
try {
  for (let r = 0; r < rounds; r++) {
    for (const b of r % 2 ? [...builds].reverse() : builds) {
      keep(b, "single", await cost(b, singles, 1, () => b.outbox.publishEvent(event(0))));
      keep(b, "bulk", await cost(b, bulk / CHUNK, CHUNK, () => b.outbox.publishEvents(chunk())));
      keep(b, "single, JavaScript only", await cost(b, singles * 5, 1, () => b.offline.publishEvent(event(0), { tx: instant })));
      keep(b, "bulk, JavaScript only", await cost(b, bulk / CHUNK, CHUNK, () => b.offline.publishEvents(chunk(), { tx: instant })));
      await b.sql.unsafe(`truncate bench_cost_${b.name}.events`);
    }
    process.stderr.write(`round ${r + 1} of ${rounds}\n`);
  }
} finally {
  for (const b of builds) {
    await b.sql.unsafe(`drop schema if exists bench_cost_${b.name} cascade`).catch(() => {});
    await b.sql.end({ timeout: 2 });
  }
  await db.close();
}

const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "-");
console.log(`publish cost: CPU per event, one connection, medians of ${rounds} rounds (single: ${singles} events a round; bulk: ${bulk} in chunks of ${CHUNK})`);
console.log(`| figure | ${builds.map((b) => `${b.name}: Node | ${b.name}: database`).join(" | ")} |`);
console.log(`|---|${builds.map(() => "--:|--:").join("|")}|`);
for (const figure of ["single", "bulk", "single, JavaScript only", "bulk, JavaScript only"] as Figure[]) {
  const cells = builds.map((b) => {
    const list = samples.get(`${figure}|${b.name}`)!;
    const dbCell = figure.includes("only") ? "-" : `${f(median(list.map((x) => x.db)))} µs`;
    return `${f(median(list.map((x) => x.node)))} µs | ${dbCell}`;
  });
  console.log(`| ${figure} | ${cells.join(" | ")} |`);
}
