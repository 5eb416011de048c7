// The batch statements must find events by primary key whatever the table's statistics say: a plan that scans the
// table, or rescans the batch for every row, costs more as the table grows (seen: 64 ms instead of 5 ms for 500
// outcomes once the table was analyzed). These tests read the plans PostgreSQL picks, on an analyzed table.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toQuery } from "../src/client.ts";
import { claimEvents, nextDueEvent } from "../src/store/claim.ts";
import { completeEvents } from "../src/store/complete.ts";
import { arrayLiteral } from "../src/store/array.ts";
import { insertKeyedEvent, insertKeyedEvents, selectExisting } from "../src/store/publish.ts";
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
        ];
        for (const [text, params] of [[insertKeyedEvent(p.outbox.schema, true), single], [insertKeyedEvents(p.outbox.schema, true), batch]] as const) {
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
