// pg-dispatch as the bench drives it: the public API only (Outbox, publishEvent, publishEvents, worker, webhook).
import postgres, { type Sql } from "postgres";
import { webhook } from "../../adapters/webhook.ts";
import { Outbox, type Worker, type WorkerOptions } from "../../mod.ts";
import { holdOpen, payload, quiet } from "../support.ts";
import { startSdk } from "./otel.ts";
import type { OnEvent, Peer, WorkerSetup } from "./peer.ts";

const SCHEMA = "bench_dispatch";
const TYPE = "user.created";

/** The worker settings the bench runs pg-dispatch with: claim batches of 500, like graphile-worker's localQueue. */
export const DISPATCH_WORKER: WorkerOptions = { concurrency: 500, batchSize: 500 };

/** pg-dispatch on its own schema, its own pool of `poolSize` connections (plus the worker's LISTEN one). */
export function dispatchPeer(url: string, poolSize = 10): Peer {
  let sent = 0;
  // debug sees every statement of this pool, and of the worker's LISTEN connection (built from these options).
  const sql: Sql = postgres(url, { max: poolSize, onnotice: () => {}, debug: () => void sent++ });
  const outbox = new Outbox({ sql, schema: SCHEMA, logger: quiet });
  let worker: Worker | null = null;
  let sdk: { shutdown(): Promise<void> } | null = null;
  const source = "bench";

  return {
    name: "pg-dispatch",
    async reset() {
      await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
      await outbox.migrate();
    },
    async publish(id, i) {
      await outbox.publishEvent({ type: TYPE, source, id, data: payload(i) });
    },
    async publishBulk(ids, first) {
      await outbox.publishEvents(ids.map((id, k) => ({ type: TYPE, source, id, data: payload(first + k) })));
    },
    async preload(count) {
      for (let i = 0; i < count; i += 1000) {
        const n = Math.min(1000, count - i);
        const events = Array.from({ length: n }, (_, k) => ({ type: TYPE, source, id: `p${i + k}`, data: payload(i + k) }));
        await outbox.publishEvents(events, { notify: false });
      }
    },
    async start(onEvent: OnEvent, setup: WorkerSetup = {}) {
      // A fresh Outbox per run: destinations cannot be unregistered.
      if (setup.otel) sdk = startSdk();
      const o = new Outbox({ sql, schema: SCHEMA, logger: quiet, telemetry: setup.telemetry !== false });
      if (setup.webhookUrl) {
        o.register(TYPE, webhook({ url: setup.webhookUrl, name: "sink" }));
      } else {
        o.register(TYPE, function first(event) {
          onEvent(event.id);
        });
        for (let k = 1; k < (setup.destinations ?? 1); k++) o.register(TYPE, () => {}, { name: `noop${k}` });
      }
      const options: WorkerOptions = { ...DISPATCH_WORKER };
      if (setup.sweepIntervalMs) options.sweepIntervalMs = setup.sweepIntervalMs;
      if (setup.history !== undefined) options.history = setup.history;
      worker = o.worker(options);
      await worker.start();
    },
    async stop() {
      await worker?.stop();
      worker = null;
      await sdk?.shutdown();
      sdk = null;
    },
    async unfinished() {
      const [row] = await sql.unsafe(`select count(*)::int as n from ${SCHEMA}.events where next_attempt_at is not null`);
      return row.n as number;
    },
    async holdUncommitted() {
      return await holdOpen((ready, held) => sql.begin(async (tx) => {
        await outbox.publishEvent({ type: TYPE, source, data: payload(0) }, { tx });
        ready();
        await held;
        throw new Error("rollback");
      }));
    },
    statements() {
      return sent;
    },
    async close() {
      await worker?.stop();
      await sql.unsafe(`drop schema if exists ${SCHEMA} cascade`);
      await sql.end({ timeout: 2 });
    },
  };
}
