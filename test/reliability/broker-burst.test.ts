// The broker restart scenario's wait for the worker's first deliveries (support/broker-burst.ts), on its own: a worker
// that delivered every event of the first half before the wait first looked has delivered some, and the wait says so
// at once rather than waiting out its time.
import { describe, expect, it } from "vitest";
import { running } from "../support/brokers.ts";
import { waitFor } from "../support/db.ts";
import { firstDeliveries } from "./support/broker-burst.ts";

describe("the broker restart scenario's wait for the first deliveries", () => {
  it("returns 0 unfinished when the worker delivered all 200 before the first look", async () => {
    const run = await running({ name: "noop", deliver: async () => {} });
    try {
      const { sql, schema, outbox } = run.db;
      await outbox.publishEvents(Array.from({ length: 200 }, (_, n) => ({ type: "audit.tick", source: "audit", data: { n } })));
      await waitFor(async () => {
        const [row] = await sql.unsafe(`select count(*)::int as n from "${schema}".events where status = 'published'`);
        return row.n === 200;
      }, "all 200 events published");
      expect(await firstDeliveries(run, 2_000)).toBe(0);
    } finally {
      await run.stop();
    }
  });
});
