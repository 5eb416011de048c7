// Producers for the scenarios: several concurrent loops publishing small transactions at a paced rate, recording
// which events the database acknowledged and which transactions failed (and how).
import type { EventInput, Outbox } from "../../../mod.ts";

export interface Production {
  /** Ids of events whose transaction committed (the publish call resolved). */
  committed: Set<string>;
  /** Errors of transactions that failed, with the ids they carried. */
  failures: { error: unknown; ids: string[] }[];
  /** Resolves when every producer is done. */
  done: Promise<void>;
  /** Asks the producers to stop after their current transaction. */
  stop(): void;
}

export interface ProduceOptions {
  /** Events to publish in total. */
  total: number;
  /** Concurrent producers. Default 4. */
  producers?: number;
  /** Events per transaction. Default 5. */
  perTx?: number;
  /** Spread the publishing over about this long. Default: as fast as possible. */
  durationMs?: number;
  /** Builds event number i (0-based). Default: type "test.event", data { n: i }. */
  make?: (i: number) => EventInput;
  /** Publish inside sql.begin (default) or as one statement. */
  transaction?: boolean;
}

/** Starts producing; see {@link ProduceOptions}. */
export function produce(outbox: Outbox, options: ProduceOptions): Production {
  const { total, producers = 4, perTx = 5, durationMs = 0 } = options;
  const make = options.make ?? ((i: number): EventInput => ({ type: "test.event", source: "reliability", id: `e${i}`, data: { n: i } }));
  const committed = new Set<string>();
  const failures: Production["failures"] = [];
  let next = 0;
  let stopped = false;
  const batches = Math.ceil(total / perTx);
  const pauseMs = durationMs > 0 ? (durationMs / batches) * producers : 0;
  const started = Date.now();

  async function loop(): Promise<void> {
    let mine = 0;
    while (!stopped && next < total) {
      const from = next;
      next = Math.min(total, next + perTx);
      const events = Array.from({ length: next - from }, (_, k) => make(from + k));
      const ids = events.map((e) => e.id!);
      try {
        if (options.transaction === false) await outbox.publishEvents(events);
        else await outbox.sql.begin(async (tx) => {
          await outbox.publishEvents(events, { tx });
        });
        for (const id of ids) committed.add(id);
      } catch (error) {
        failures.push({ error, ids });
      }
      mine++;
      // Pacing, not waiting for a condition: keeps the load steady over durationMs.
      const aheadMs = started + mine * pauseMs - Date.now();
      if (aheadMs > 0) await new Promise((r) => setTimeout(r, aheadMs));
    }
  }

  const done = Promise.all(Array.from({ length: producers }, loop)).then(() => {});
  return { committed, failures, done, stop: () => (stopped = true) };
}
