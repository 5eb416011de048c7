// pg-boss 12 with its best settings for each figure: a queue with `notify` on and the instance's LISTEN/NOTIFY
// listener (workers wake on commit, as pg-dispatch's do), `insert` for bulk loads (one statement per chunk), and a
// worker that fetches batches of 500 and keeps fetching while batches come back full. Cron scheduling is off (the
// bench schedules nothing); supervision (expiry of crashed workers' jobs, retention) stays on: it is what makes
// pg-boss at-least-once, as pg-dispatch's lease sweep does.
import { PgBoss, type WorkOptions } from "pg-boss";
import postgres, { type Sql } from "postgres";
import { holdOpen, payload } from "../support.ts";
import type { OnEvent, Peer, WorkerSetup } from "./peer.ts";

const SCHEMA = "bench_pgboss";
const QUEUE = "user.created";

/** The worker settings: batches like pg-dispatch's (500), continuous fetching while there is a backlog. */
export const PGBOSS_WORKER: WorkOptions = { batchSize: 500, localConcurrency: 1, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 };

type Job = { id: string; data: { id: string } };

/** pg-boss on its own schema and pool. */
export function pgbossPeer(url: string, poolSize = 10): Peer {
  let boss: PgBoss | null = null;
  // For what pg-boss has no API for (counting unfinished jobs, dropping its schema, holding a transaction open).
  const sql: Sql = postgres(url, { max: 2, onnotice: () => {} });

  async function b(): Promise<PgBoss> {
    if (boss) return boss;
    const created = new PgBoss({ connectionString: url, schema: SCHEMA, max: poolSize, schedule: false, useListenNotify: true });
    created.on("error", () => {});
    await created.start();
    boss = created;
    return created;
  }

  async function stopBoss(): Promise<void> {
    await boss?.stop({ graceful: true, close: true, timeout: 30_000 });
    boss = null;
  }

  return {
    name: "pg-boss",
    async reset() {
      await stopBoss();
      await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
      await (await b()).createQueue(QUEUE, { notify: true });
    },
    async publish(id, i) {
      await (await b()).send(QUEUE, { id, ...payload(i) });
    },
    async publishBulk(ids, first) {
      await (await b()).insert(QUEUE, ids.map((id, k) => ({ data: { id, ...payload(first + k) } })));
    },
    async preload(count) {
      for (let i = 0; i < count; i += 1000) {
        const n = Math.min(1000, count - i);
        await this.publishBulk(Array.from({ length: n }, (_, k) => `p${i + k}`), i);
      }
    },
    async start(onEvent: OnEvent, setup: WorkerSetup = {}) {
      if ((setup.destinations ?? 1) > 1) throw new Error("pg-boss: one handler per job");
      const target = setup.webhookUrl;
      const handler = target
        ? async (jobs: Job[]) => {
          // One POST per job, all of the batch at once (the handler owns the batch's concurrency).
          await Promise.all(jobs.map(async (job) => {
            const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job.data) });
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`HTTP ${res.status}`);
          }));
        }
        : (jobs: Job[]) => {
          for (const job of jobs) onEvent(job.data.id);
          return Promise.resolve();
        };
      await (await b()).work(QUEUE, PGBOSS_WORKER, handler as never);
    },
    async stop() {
      await boss?.offWork(QUEUE, { wait: true }).catch(() => {});
    },
    async unfinished() {
      const [row] = await sql.unsafe(`select count(*)::int as n from ${SCHEMA}.job where state < 'completed'`);
      return row.n as number;
    },
    async holdUncommitted() {
      // What pg-boss's send runs, in a transaction left open: its insert and the queue's NOTIFY wait for the commit.
      const boss = await b();
      return await holdOpen((ready, held) => sql.begin(async (tx) => {
        await boss.send(QUEUE, { id: "held" }, { db: { executeSql: (text: string, values?: unknown[]) => tx.unsafe(text, values as never[]).then((rows) => ({ rows })) } } as never);
        ready();
        await held;
        throw new Error("rollback");
      }));
    },
    async close() {
      await stopBoss();
      await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
      await sql.end({ timeout: 2 });
    },
  };
}
