// Scenario 5, many workers: four workers, each with its own Outbox and connection pool (as separate processes
// would have), share one table under a steady publish rate. No (event, destination) is ever in flight twice at
// once, events sharing an ordering key reach each destination one at a time in publish order, and every worker
// does part of the work.
import { afterAll, describe, expect, it } from "vitest";
import type { Worker } from "../../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { type Arrival, type Behaviour, Receiver } from "./support/receiver.ts";
import { audit, drained, expectClean, summary } from "./support/check.ts";
import { produce } from "./support/produce.ts";

const EVENTS = 2000;
const WORKERS = 4;
const KEYS = 20;

const busy: Behaviour = ({ answer }) => setTimeout(() => answer(204), 1 + Math.floor(Math.random() * 8));

/** Pairs of requests for the same group whose [start, end] intervals overlap. */
function overlaps(arrivals: Arrival[], group: (a: Arrival) => string | null): number {
  const by = new Map<string, Arrival[]>();
  for (const a of arrivals) {
    const g = group(a);
    if (g === null) continue;
    const list = by.get(g);
    if (list) list.push(a);
    else by.set(g, [a]);
  }
  let n = 0;
  for (const list of by.values()) {
    list.sort((x, y) => x.start - y.start);
    for (let i = 1; i < list.length; i++) if (list[i].start < list[i - 1].end) n++;
  }
  return n;
}

describe("guarantees 7 and 8: many workers share one table safely", () => {
  let t: TestOutbox;
  let receiver: Receiver;
  const workers: Worker[] = [];

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await receiver?.close();
    await t?.drop();
  });

  it("never runs a delivery twice at once, keeps key order, and shares the work", async () => {
    t = await testOutbox();
    receiver = await Receiver.start({ a: busy, b: busy });
    for (let w = 0; w < WORKERS; w++) {
      const outbox = await t.another();
      for (const d of receiver.destinations(receiver.names, 5000, { "x-worker": `w${w}` })) outbox.register("*", d);
      const worker = outbox.worker({ concurrency: 16, retention: false });
      workers.push(worker);
      await worker.start();
    }
    // One producer: "publish order" is only defined for events published one after another; two transactions
    // publishing the same key at once have no order to keep.
    const production = produce(t.outbox, {
      total: EVENTS,
      producers: 1,
      durationMs: 8000,
      make: (i) => ({
        type: "test.event", source: "reliability", id: `e${i}`,
        orderingKey: `k${i % KEYS}`, data: { key: `k${i % KEYS}`, seq: Math.floor(i / KEYS) },
      }),
    });
    await production.done;
    await waitFor(() => drained(t.sql, t.schema), "every event to be delivered", 60_000);

    const result = await audit(t.sql, t.schema, receiver, receiver.names, production.committed);
    expectClean(result, production.failures, EVENTS);

    const sameDelivery = overlaps(receiver.arrivals, (a) => `${a.dest}/${a.id}`);
    const sameKey = overlaps(receiver.arrivals, (a) => (a.orderingKey ? `${a.dest}/${a.orderingKey}` : null));
    expect(sameDelivery).toBe(0);
    expect(sameKey).toBe(0);
    // Publish order per key and destination: each key's accepted requests arrive with seq 0, 1, 2, ...
    let outOfOrder = 0;
    for (const dest of receiver.names) {
      const last = new Map<string, number>();
      for (const a of [...receiver.arrivals].filter((x) => x.dest === dest && x.status === 204).sort((x, y) => x.start - y.start)) {
        const prev = last.get(a.orderingKey!) ?? -1;
        if (a.seq! < prev) outOfOrder++;
        last.set(a.orderingKey!, Math.max(prev, a.seq!));
      }
    }
    expect(outOfOrder).toBe(0);
    const share = Array.from({ length: WORKERS }, (_, w) => receiver.arrivals.filter((a) => a.worker === `w${w}`).length);
    for (const n of share) expect(n).toBeGreaterThan(0);
    summary("many-workers", {
      load: `${EVENTS}ev/8s,1producer,${KEYS}orderingKeys,2webhooks`,
      faults: `${WORKERS}workers(own pools)`,
      published: result.published,
      delivered: result.delivered,
      duplicates: result.duplicates,
      lost: result.lost,
      overlappingDeliveries: sameDelivery,
      overlappingPerKey: sameKey,
      outOfOrder,
      requestsPerWorker: share.join("|"),
    });
  }, 120_000);
});
