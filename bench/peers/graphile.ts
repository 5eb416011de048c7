// graphile-worker 0.18 with its best settings for throughput: a local queue (batched fetch) and batched completion.
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker";
import { holdOpen, payload } from "../support.ts";
import type { OnEvent, Peer, WorkerSetup } from "./peer.ts";

const SCHEMA = "bench_graphile";
const silent = new Logger(() => () => {});

/** The runner settings: concurrency as pg-dispatch's, localQueue and completion batching on. */
export const GRAPHILE_WORKER = {
  concurrentJobs: 32,
  maxPoolSize: 12,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};

/** graphile-worker on its own schema. */
export function graphilePeer(url: string, poolSize = 10): Peer {
  let utils: WorkerUtils | null = null;
  let runner: Runner | null = null;

  async function u(): Promise<WorkerUtils> {
    utils ??= await makeWorkerUtils({ connectionString: url, schema: SCHEMA, logger: silent, preset: { worker: { maxPoolSize: poolSize } } } as never);
    return utils;
  }

  return {
    name: "graphile-worker",
    async reset() {
      const w = await u();
      await w.withPgClient((c) => c.query(`drop schema if exists ${SCHEMA} cascade`));
      await w.release();
      utils = null;
      await (await u()).migrate();
    },
    async publish(id, i) {
      await (await u()).addJob("user.created", { id, ...payload(i) });
    },
    async publishBulk(ids, first) {
      await (await u()).addJobs(ids.map((id, k) => ({ identifier: "user.created", payload: { id, ...payload(first + k) } })));
    },
    async preload(count) {
      for (let i = 0; i < count; i += 1000) {
        const n = Math.min(1000, count - i);
        await this.publishBulk(Array.from({ length: n }, (_, k) => `p${i + k}`), i);
      }
    },
    async start(onEvent: OnEvent, setup: WorkerSetup = {}) {
      if ((setup.destinations ?? 1) > 1) throw new Error("graphile-worker: one task per job");
      const target = setup.webhookUrl;
      const task = target
        ? async (p: unknown) => {
          const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(p) });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
        }
        : async (p: unknown) => {
          onEvent((p as { id: string }).id);
        };
      runner = await run({
        logger: silent,
        noHandleSignals: true,
        taskList: { "user.created": task },
        preset: { worker: { connectionString: url, schema: SCHEMA, ...GRAPHILE_WORKER } },
      } as never);
    },
    async stop() {
      await runner?.stop();
      runner = null;
    },
    async unfinished() {
      const [row] = (await (await u()).withPgClient((c) => c.query(`select count(*)::int as n from ${SCHEMA}._private_jobs`))).rows;
      return row.n as number;
    },
    async holdUncommitted() {
      const w = await u();
      return await holdOpen((ready, held) => w.withPgClient(async (c) => {
        await c.query("begin");
        await c.query(`select ${SCHEMA}.add_job('user.created', '{}'::json)`);
        ready();
        await held;
        await c.query("rollback");
      }));
    },
    async close() {
      await this.stop();
      const w = await u();
      await w.withPgClient((c) => c.query(`drop schema if exists ${SCHEMA} cascade`));
      await w.release();
      utils = null;
    },
  };
}
