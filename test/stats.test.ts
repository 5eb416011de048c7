// stats() on a table past its exact counts: every status is counted exactly up to EXACT_COUNT rows and estimated
// beyond, and no count reads more than that many rows, whatever the mix of statuses (a backlog of millions waiting
// behind a paused destination, with the published events already removed by retention, is when stats are read most).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXACT_COUNT, selectStats } from "../src/store/stats.ts";
import { testOutbox, type TestOutbox } from "./support/db.ts";

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox();
});
afterAll(async () => {
  await t.drop();
});

let fills = 0;

/** Writes `n` events in a final state directly, as a long-running outbox would have them. */
async function fill(n: number, status: "pending" | "published" | "failed"): Promise<void> {
  fills++;
  await t.sql.unsafe(`
    insert into "${t.schema}".events (id, source, type, status, deliveries, next_attempt_at, published_at, failed_at)
    select '${status}-${fills}-' || g, 'stats', 'stat', '${status}', '{}'::jsonb,
           case when '${status}' = 'pending' then now() - interval '1 minute' end,
           case when '${status}' = 'published' then now() end,
           case when '${status}' = 'failed' then now() end
    from generate_series(1, ${n}) g`);
}

/** The most rows any one scan of the events table read to answer stats(): what it looked at, kept or not. */
async function mostRowsOneScanRead(): Promise<number> {
  const [row] = await t.sql.unsafe(`explain (analyze, format json) ${selectStats(t.outbox.schema)}`, [EXACT_COUNT + 1]);
  let most = 0;
  const walk = (node: Record<string, unknown>): void => {
    if (node["Relation Name"] === "events") {
      most = Math.max(most, Number(node["Actual Rows"] ?? 0) + Number(node["Rows Removed by Filter"] ?? 0) + Number(node["Rows Removed by Index Recheck"] ?? 0));
    }
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((row["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
  return most;
}

describe("stats() never counts the whole table", () => {
  it("reads at most the exact-count bound per status when nearly every event is waiting", async () => {
    await fill(3 * EXACT_COUNT, "pending");
    await fill(20, "published");
    await t.sql.unsafe(`vacuum analyze "${t.schema}".events`);
    const stats = await t.outbox.stats();
    expect(stats).toMatchObject({ published: 20, failed: 0, processing: 0, estimated: true });
    expect(stats.pending).toBeGreaterThan(EXACT_COUNT);
    expect(Math.abs(stats.pending - 3 * EXACT_COUNT)).toBeLessThan(0.1 * 3 * EXACT_COUNT);
    expect(await mostRowsOneScanRead()).toBeLessThanOrEqual(EXACT_COUNT + 1);
  });

  it("estimates published and failed past the bound, and says so", async () => {
    await fill(2 * EXACT_COUNT, "published");
    await fill(EXACT_COUNT + 500, "failed");
    await t.sql.unsafe(`vacuum analyze "${t.schema}".events`);
    const stats = await t.outbox.stats();
    expect(stats.estimated).toBe(true);
    expect(Math.abs(stats.published - (2 * EXACT_COUNT + 20))).toBeLessThan(0.1 * 2 * EXACT_COUNT);
    expect(Math.abs(stats.failed - (EXACT_COUNT + 500))).toBeLessThan(0.1 * EXACT_COUNT);
    expect(await mostRowsOneScanRead()).toBeLessThanOrEqual(EXACT_COUNT + 1);
  });

  it("does not count published events twice when a writer's statistics arrive after the VACUUM", async () => {
    // A backend reports its insert counts at most once a second; counts reported after a VACUUM are added to the
    // live-row figure that VACUUM wrote. One connection: report now, insert, VACUUM within the second, then let the
    // report arrive.
    const before = await t.outbox.stats();
    const conn = await t.sql.reserve();
    try {
      await conn`select pg_stat_force_next_flush()`;
      await conn`select 1`;
      fills++;
      await conn.unsafe(`
        insert into "${t.schema}".events (id, source, type, status, deliveries, published_at)
        select 'late-${fills}-' || g, 'stats', 'stat', 'published', '{}'::jsonb, now() from generate_series(1, ${2 * EXACT_COUNT}) g`);
      await conn.unsafe(`vacuum analyze "${t.schema}".events`);
      await conn`select pg_sleep(1.2)`;
      await conn`select 1`;
    } finally {
      conn.release();
    }
    const stats = await t.outbox.stats();
    const expected = before.published + 2 * EXACT_COUNT;
    expect(Math.abs(stats.published - expected)).toBeLessThan(0.1 * expected);
  });
});
