// The batch statements must find events by primary key whatever the table's statistics say: a plan that scans the
// table, or rescans the batch for every row, costs more as the table grows (seen: 64 ms instead of 5 ms for 500
// outcomes once the table was analyzed). These tests read the plans PostgreSQL picks, on an analyzed table.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toQuery } from "../src/client.ts";
import type { NewEvent } from "../src/event.ts";
import { claimEvents, nextDueEvent } from "../src/store/claim.ts";
import { completeEvents } from "../src/store/complete.ts";
import { arrayLiteral } from "../src/store/array.ts";
import { columnsOf, insertKeyedEvent, insertKeyedEvents, selectExisting } from "../src/store/publish.ts";
import { storeFilter, type StoreFilter } from "../src/filter.ts";
import { selectBacklog } from "../src/store/backlog.ts";
import { selectDestinationHealth } from "../src/store/destination-health.ts";
import { searchEvents } from "../src/store/event-search.ts";
import { selectFailureGroups } from "../src/store/failure-groups.ts";
import { countRetryable } from "../src/store/retry-count.ts";
import { retryEventsBatch } from "../src/store/retry-events.ts";
import { countReplayable, REPLAY_WINDOW, replayEventsBatch, seqBounds } from "../src/store/replay-events.ts";
import { selectSeqAtTime } from "../src/store/seek-time.ts";
import { selectStatusCounts } from "../src/store/status-counts.ts";
import { selectThroughput } from "../src/store/throughput.ts";
import { selectBacklogGauges, typesExpression } from "../src/store/backlog-gauges.ts";
import { testOutbox, type TestOutbox } from "./support/db.ts";

let t: TestOutbox;
beforeAll(async () => {
  t = await testOutbox();
  for (let i = 0; i < 4; i++) {
    await t.outbox.publishEvents(Array.from({ length: 1000 }, (_, k) => ({ type: "plan", source: "plans", data: { i, k } })), { notify: false });
  }
});
afterAll(async () => {
  await t.drop();
});

async function plan(text: string, params: unknown[]): Promise<string> {
  const rows = await t.sql.unsafe(`explain ${text}`, params as never[]);
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

describe("batch statements find events by primary key, before and after ANALYZE", () => {
  for (const analyzed of [false, true]) {
    it(`completing 500 outcomes walks the outcomes and looks each event up (${analyzed ? "analyzed" : "no statistics"})`, async () => {
      const lease = crypto.randomUUID();
      const rows = await toQuery(t.sql)(claimEvents(t.outbox.schema), [500, lease, 30_000]);
      expect(rows).toHaveLength(500);
      if (analyzed) await t.sql.unsafe(`analyze "${t.schema}".events`);
      const seqs = rows.map((r) => String(r.seq));
      const text = await plan(completeEvents(t.outbox.schema), [
        arrayLiteral(seqs), arrayLiteral(seqs.map(() => "published")), JSON.stringify(seqs.map(() => ({}))),
        arrayLiteral(seqs.map(() => null)), arrayLiteral(seqs.map(() => null)), lease, seqs.length,
      ]);
      expect(text).toMatch(/Nested Loop[\s\S]*Function Scan on x[\s\S]*Index Scan using events_pkey on events e/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });

    it(`claiming takes due rows from the due index and updates them by primary key (${analyzed ? "analyzed" : "no statistics"})`, async () => {
      if (analyzed) await t.sql.unsafe(`analyze "${t.schema}".events`);
      const text = await plan(claimEvents(t.outbox.schema), [500, crypto.randomUUID(), 30_000]);
      expect(text).toMatch(/Index Scan on events_due|Index Scan using events_due/);
      expect(text).toMatch(/events_pkey/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });

    it(`reading back repeated events uses the (id, source) index (${analyzed ? "analyzed" : "no statistics"})`, async () => {
      if (analyzed) await t.sql.unsafe(`analyze "${t.schema}".events`);
      const [{ id, source }] = await t.sql.unsafe(`select id, source from "${t.schema}".events limit 1`);
      const text = await plan(selectExisting(t.outbox.schema), [arrayLiteral([id]), arrayLiteral([source])]);
      expect(text).toMatch(/events_id_source/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });
  }
});

// Events waiting behind an unfinished event with the same ordering key must not sit in the claim's path: with 20,000
// of them behind one retrying event, each claim used to test every one of them (a NOT EXISTS per row) before it
// reached the unrelated events, and 200 unrelated events took seconds to claim.
describe("events waiting behind an ordering key stay out of the claim's path", () => {
  let b: TestOutbox;
  beforeAll(async () => {
    b = await testOutbox();
    const [head] = await b.outbox.publishEvents([{ type: "plan", source: "plans", orderingKey: "hot", data: { n: 0 } }]);
    // The head failed once and waits for its retry, an hour from now.
    await b.sql.unsafe(`update "${b.schema}".events set attempts = 1, next_attempt_at = now() + interval '1 hour' where id = $1`, [head.id]);
    for (let c = 0; c < 4; c++) {
      await b.outbox.publishEvents(Array.from({ length: 5000 }, (_, k) => ({ type: "plan", source: "plans", orderingKey: "hot", data: { n: c * 5000 + k + 1 } })), { notify: false });
    }
    await b.outbox.publishEvents(Array.from({ length: 200 }, (_, k) => ({ type: "plan", source: "plans", data: { k } })), { notify: false });
  }, 60_000);
  afterAll(async () => {
    await b.drop();
  });

  const ROLLBACK = new Error("rollback");
  /** The plan as run (EXPLAIN ANALYZE, rolled back), as JSON nodes. */
  async function analyzed(text: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    const nodes: Array<Record<string, unknown>> = [];
    await b.sql.begin(async (tx) => {
      const [row] = await tx.unsafe(`explain (analyze, format json) ${text}`, params as never[]);
      const walk = (node: Record<string, unknown>): void => {
        nodes.push(node);
        for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
      };
      walk((row["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
      throw ROLLBACK;
    }).catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
    return nodes;
  }

  /** The most rows any one node of the plan handled (loops times rows, plus rows its filter threw away). */
  function mostRowsTouched(nodes: Array<Record<string, unknown>>): number {
    return Math.max(...nodes.map((n) =>
      Number(n["Actual Loops"] ?? 0) * (Number(n["Actual Rows"] ?? 0) + Number(n["Rows Removed by Filter"] ?? 0))
      + Number(n["Actual Loops"] ?? 0) * Number(n["Rows Removed by Index Recheck"] ?? 0)));
  }

  for (const withStats of [false, true]) {
    it(`a claim of 200 touches the 200 unrelated events, not the 20,000 waiting ones (${withStats ? "analyzed" : "no statistics"})`, async () => {
      if (withStats) await b.sql.unsafe(`analyze "${b.schema}".events`);
      const nodes = await analyzed(claimEvents(b.outbox.schema), [200, crypto.randomUUID(), 30_000]);
      const claimed = nodes.find((n) => n["Node Type"] === "ModifyTable");
      expect(claimed?.["Actual Rows"]).toBe(200);
      expect(mostRowsTouched(nodes)).toBeLessThan(1000);
    });

    it(`looking for the next due event does not visit the waiting ones (${withStats ? "analyzed" : "no statistics"})`, async () => {
      if (withStats) await b.sql.unsafe(`analyze "${b.schema}".events`);
      const nodes = await analyzed(nextDueEvent(b.outbox.schema), []);
      expect(mostRowsTouched(nodes)).toBeLessThan(1000);
    });
  }

  for (const finished of [true, false]) {
    it(`completing the head (${finished ? "finished: the next one is released" : "retrying: the next one stays parked"}) touches no waiting event but the next`, async () => {
      await b.sql.unsafe(`analyze "${b.schema}".events`);
      await b.sql.begin(async (tx) => {
        await tx.unsafe(`update "${b.schema}".events set next_attempt_at = now() where ordering_key = 'hot' and not parked`);
        const lease = crypto.randomUUID();
        const rows = await toQuery(tx)(claimEvents(b.outbox.schema), [500, lease, 30_000]);
        expect(rows.filter((r) => r.ordering_key === "hot")).toHaveLength(1);
        const seqs = rows.map((r) => String(r.seq));
        const next = seqs.map((_, i) => (finished || rows[i].ordering_key !== "hot" ? null : new Date(Date.now() + 60_000).toISOString()));
        const params = [
          arrayLiteral(seqs), arrayLiteral(seqs.map(() => (finished ? "published" : "pending"))), JSON.stringify(seqs.map(() => ({}))),
          arrayLiteral(next), arrayLiteral(seqs.map(() => null)), lease, seqs.length,
        ];
        const [row] = await tx.unsafe(`explain (analyze, format json) ${completeEvents(b.outbox.schema)}`, params as never[]);
        const nodes: Array<Record<string, unknown>> = [];
        const walk = (node: Record<string, unknown>): void => {
          nodes.push(node);
          for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
        };
        walk((row["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
        expect(nodes.some((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "events")).toBe(false);
        expect(mostRowsTouched(nodes)).toBeLessThan(2000);
        const [{ n }] = await tx.unsafe(`select count(*)::int as n from "${b.schema}".events where parked`);
        expect(n).toBe(finished ? 19_999 : 20_000);
        throw ROLLBACK;
      }).catch((err: unknown) => {
        if (err !== ROLLBACK) throw err;
      });
    });
  }
});

// Publish asks "does this key have a parked event, or an unfinished one no worker holds?" for every event with an
// ordering key. It must ask the events_ordering index, not scan the table from its oldest (finished) rows.
describe("publishing an event with an ordering key looks at the key's unfinished events only", () => {
  /** A stored-ready event that sets no optional attribute. */
  const EVENT: NewEvent = {
    id: "x", source: "plans", type: "plan", specversion: "1.0", subject: null, time: "2026-01-01T00:00:00Z", datacontenttype: "application/json",
    dataschema: null, extensions: null, data: null, scheduled_at: null, max_retries: null, ordering_key: null,
  };
  let p: TestOutbox;
  beforeAll(async () => {
    p = await testOutbox();
    for (let c = 0; c < 4; c++) {
      await p.outbox.publishEvents(Array.from({ length: 5000 }, (_, k) => ({ type: "plan", source: "plans", orderingKey: `k${k % 64}` })), { notify: false });
    }
    await p.sql.unsafe(`update "${p.schema}".events set next_attempt_at = null, parked = false, status = 'published'`);
    await p.outbox.publishEvents(Array.from({ length: 64 }, (_, k) => ({ type: "plan", source: "plans", orderingKey: `k${k}` })), { notify: false });
  }, 60_000);
  afterAll(async () => {
    await p.drop();
  });

  for (const withStats of [false, true]) {
    for (const generic of [false, true]) {
      it(`single and batch publish use events_ordering (${withStats ? "analyzed" : "no statistics"}, ${generic ? "generic" : "custom"} plan)`, async () => {
        if (withStats) await p.sql.unsafe(`analyze "${p.schema}".events`);
        const single = ["id-1", "plans", "plan", "1.0", null, "2026-01-01T00:00:00Z", "application/json", null, null, null, null, null, "k5"];
        const batch = [
          ...["{id-2,id-3}", "{plans,plans}", "{plan,plan}", "{1.0,1.0}", "{NULL,NULL}", "{2026-01-01T00:00:00Z,2026-01-01T00:00:00Z}",
            "{application/json,application/json}", "{NULL,NULL}", "{NULL,NULL}", "{NULL,NULL}", "{NULL,NULL}", "{NULL,NULL}", "{k5,k6}"],
          "{f,f}",
          "2", // the batch's size: the statement lists the new events only when fewer were stored
        ];
        // And the shape publish sends for events that set nothing optional but the key: id, source, type, time,
        // datacontenttype, ordering_key (the other columns left at their defaults).
        const lean = columnsOf([{ ...EVENT, ordering_key: "k5" }]);
        const leanSingle = ["id-4", "plans", "plan", "2026-01-01T00:00:00Z", "application/json", "k5"];
        const leanBatch = ["{id-5,id-6}", "{plans,plans}", "{plan,plan}", "{2026-01-01T00:00:00Z,2026-01-01T00:00:00Z}", "{application/json,application/json}", "{k5,k6}", "{f,f}", "2"];
        expect(lean.map((c) => c.name)).toEqual(["id", "source", "type", "time", "datacontenttype", "ordering_key"]);
        for (const [text, params] of [
          [insertKeyedEvent(p.outbox.schema, true), single], [insertKeyedEvents(p.outbox.schema, true), batch],
          [insertKeyedEvent(p.outbox.schema, true, lean), leanSingle], [insertKeyedEvents(p.outbox.schema, true, lean), leanBatch],
        ] as const) {
          const plan = await p.sql.begin(async (tx) => {
            if (generic) await tx.unsafe(`set local plan_cache_mode = force_generic_plan`);
            const rows = await tx.unsafe(`explain (analyze, format json) ${text}`, params as never[]);
            throw Object.assign(new Error("rollback"), { plan: (rows[0]["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0].Plan });
          }).catch((err: { plan?: Record<string, unknown> }) => {
            if (!err.plan) throw err;
            return err.plan;
          });
          const nodes: Array<Record<string, unknown>> = [];
          const walk = (node: Record<string, unknown>): void => {
            nodes.push(node);
            for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
          };
          walk(plan);
          expect(nodes.some((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "events")).toBe(false);
          expect(nodes.some((n) => n["Index Name"] === "events_ordering" || n["Index Name"] === "events_parked")).toBe(true);
        }
      });
    }
  }
});

// The dashboard's reads and the bulk retry: each goes through a partial index or a bounded window, never a scan of
// the table (a million published events must cost these statements nothing). Rows here: mostly published long ago,
// some failed, some waiting, as in production.
describe("dashboard reads and bulk retry use their indexes on an analyzed table", () => {
  let d: TestOutbox;
  beforeAll(async () => {
    d = await testOutbox();
    // 4,000 events in their final states, written directly: 1 in 50 failed ten minutes ago, 1 in 97 waiting, the
    // rest published two days ago.
    await d.sql.unsafe(`
      insert into "${d.schema}".events (id, source, type, status, deliveries, next_attempt_at, published_at, failed_at, created_at)
      select 'e' || g, 'plans', 'plan', st, dl, case when st = 'pending' then now() + interval '1 hour' end,
             case when st = 'published' then now() - interval '2 days' end,
             case when st = 'failed' then now() - interval '10 minutes' end, now() - interval '2 days'
      from generate_series(1, 4000) g,
      lateral (select case when g % 50 = 0 then 'failed' when g % 97 = 0 then 'pending' else 'published' end as st) s,
      lateral (select case st when 'failed' then '{"billing": {"status": "failed", "attempts": 4, "lastError": "503"}}'
                              when 'pending' then '{}' else '{"billing": {"status": "delivered", "attempts": 1}}' end::jsonb as dl) x`);
  });
  afterAll(async () => {
    await d.drop();
  });

  async function plan(text: string, params: unknown[]): Promise<string> {
    const rows = await d.sql.unsafe(`explain ${text}`, params as never[]);
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  }

  const filters: Array<[string, StoreFilter]> = [
    ["no filter", storeFilter({}, "t")],
    ["failed", storeFilter({ status: "failed" }, "t")],
    ["a type prefix and a destination", storeFilter({ type: "pl*", destination: "billing" }, "t")],
    ["a time range and an error", storeFilter({ from: new Date(Date.now() - 86_400_000), to: new Date(), error: "503" }, "t")],
  ];

  // Analyzed only: without statistics a table this small is planned as the small table it is (a scan is cheapest),
  // which says nothing about a large one; bench/dashboard.ts times these on a million rows.
  {
    const analyzed = true;
    const when = "analyzed";
    it(`counts by status through the partial indexes (${when})`, async () => {
      if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
      const text = await plan(selectStatusCounts(d.outbox.schema), [10_000]);
      expect(text).toMatch(/events_due/);
      expect(text).toMatch(/events_failed/);
      // The one scan allowed: the exact total of a table under 16 MB, skipped (never run) on a larger one.
      expect((text.match(/Seq Scan on events/g) ?? []).length).toBeLessThanOrEqual(1);
    });

    it(`charts the last hour from the time indexes (${when})`, async () => {
      if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
      const text = await plan(selectThroughput(d.outbox.schema), []);
      expect(text).toMatch(/events_published_at/);
      expect(text).toMatch(/events_failed_at/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });

    it(`reads the backlog, destination health and failure groups through their indexes (${when})`, async () => {
      if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
      const backlogPlan = await plan(selectBacklog(d.outbox.schema), [10_000]);
      expect(backlogPlan).toMatch(/events_due/);
      const health = await plan(selectDestinationHealth(d.outbox.schema), [20_000]);
      expect(health).toMatch(/events_published_at/);
      expect(health).toMatch(/events_failed_at/);
      const failures = await plan(selectFailureGroups(d.outbox.schema), [10_000, 100]);
      expect(failures).toMatch(/events_failed/);
      for (const text of [backlogPlan, health, failures]) expect(text).not.toMatch(/Seq Scan on events/);
    });

    for (const [name, filter] of filters) {
      it(`searches events with ${name} within a window of the primary key or events_failed (${when})`, async () => {
        if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
        const { sql, params } = searchEvents(d.outbox.schema, filter);
        const text = await plan(sql, [null, 51, 100_000, ...params]);
        expect(text).toMatch(filter.status === "failed" ? /events_failed|events_pkey/ : /events_pkey/);
        expect(text).not.toMatch(/Seq Scan on events/);
      });

      it(`retries and counts retryable events with ${name} from events_failed (${when})`, async () => {
        if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
        const batch = retryEventsBatch(d.outbox.schema, filter);
        const retryPlan = await plan(batch.sql, batch.params(["9223372036854775807", 500]));
        const count = countRetryable(d.outbox.schema, filter);
        const countPlan = await plan(count.sql, [10_000, ...count.params]);
        for (const text of [retryPlan, countPlan]) {
          expect(text).toMatch(/events_failed/);
          expect(text, text).not.toMatch(/Seq Scan on events/);
        }
      });
    }

    for (const [name, filter] of filters) {
      it(`replays events with ${name} within a window of the primary key (${when})`, async () => {
        if (analyzed) await d.sql.unsafe(`analyze "${d.schema}".events`);
        const batch = replayEventsBatch(d.outbox.schema, filter);
        const text = await plan(batch.sql, batch.params(["4001", 500, "warehouse", REPLAY_WINDOW]));
        expect(text).toMatch(/events_pkey|events_failed/);
        expect(text, text).not.toMatch(/Seq Scan on events/);
      });
    }

    it(`a replay's walk starts and ends from the primary key (${when})`, async () => {
      const text = await plan(seqBounds(d.outbox.schema), []);
      expect(text).toMatch(/events_pkey/);
      expect(text).not.toMatch(/Seq Scan on events/);
      // The dry run counts what it is asked to count: with a status, through that status's index.
      const count = countReplayable(d.outbox.schema, storeFilter({ status: "failed" }, "t"));
      expect(await plan(count.sql, [null, ...count.params])).toMatch(/events_failed/);
    });

    it(`finds where a time range begins by bisecting the primary key (${when})`, async () => {
      const text = await plan(selectSeqAtTime(d.outbox.schema), [new Date(Date.now() - 86_400_000)]);
      expect(text).toMatch(/events_pkey/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });

    it(`finds an event by id through events_id_source, with no window (${when})`, async () => {
      const { sql, params } = searchEvents(d.outbox.schema, storeFilter({ id: "x" }, "t"));
      const text = await plan(sql, [null, 51, 100_000, ...params]);
      expect(text).toMatch(/events_id_source/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });
  }
});

describe("the backlog gauges read unfinished events only (they run on every metrics collection)", () => {
  for (const analyzed of [false, true]) {
    it(`the backlog query reads the partial due index, not the table (${analyzed ? "analyzed" : "no statistics"})`, async () => {
      const b = await testOutbox();
      try {
        // A table that is mostly history: 20,000 finished events and 50 unfinished ones.
        await b.sql.unsafe(`insert into "${b.schema}".events (id, source, type, status, next_attempt_at)
          select g::text, 'plans', 'audit.x', case when g <= 50 then 'pending' else 'published' end,
                 case when g <= 50 then now() end
          from generate_series(1, 20000) g`);
        if (analyzed) await b.sql.unsafe(`analyze "${b.schema}".events`);
        const text = await plan(selectBacklogGauges(b.outbox.schema), [arrayLiteral(["audit", "crm"]), arrayLiteral([typesExpression(["audit.*"]), typesExpression(["user.created"])])]);
        // The partial index that holds only unfinished events; never the table.
        expect(text).toMatch(/events_due/);
        expect(text).not.toMatch(/Seq Scan on events/);
      } finally {
        await b.drop();
      }
    });
  }
});
