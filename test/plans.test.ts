// The batch statements must find events by primary key whatever the table's statistics say: a plan that scans the
// table, or rescans the batch for every row, costs more as the table grows (seen: 64 ms instead of 5 ms for 500
// outcomes once the table was analyzed). These tests read the plans PostgreSQL picks, on an analyzed table.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toQuery } from "../src/client.ts";
import { claimEvents } from "../src/store/claim.ts";
import { completeEvents } from "../src/store/complete.ts";
import { arrayLiteral } from "../src/store/array.ts";
import { selectExisting } from "../src/store/publish.ts";
import { selectBacklog, typesExpression } from "../src/store/backlog.ts";
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
        const text = await plan(selectBacklog(b.outbox.schema), [arrayLiteral(["audit", "crm"]), arrayLiteral([typesExpression(["audit.*"]), typesExpression(["user.created"])])]);
        expect(text).toMatch(/events_due/);
        expect(text).not.toMatch(/Seq Scan on events/);
      } finally {
        await b.drop();
      }
    });
  }
});
