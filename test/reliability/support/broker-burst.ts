// The broker restart scenario, shared by the four brokers: a burst of events to a broker destination, the broker
// stopped while the worker is delivering the first half and started again while the second half is published, then
// every event must end published and be read back from the broker by its own client. Re-sends show up as duplicates
// in every broker but JetStream (which drops them by Nats-Msg-Id), so they are counted, not refused.
import { expect } from "vitest";
import type { Running } from "../../support/brokers.ts";
import { waitFor } from "../../support/db.ts";
import { summary } from "./check.ts";

export const BURST_EVENTS = 400;
const BATCH = 50;
const RESTART_AT = 200;

/** The retry policy of the scenario: quick, and enough attempts to outlast a restart of several seconds. */
export const BURST_RETRY = { retry: { maxRetries: 100, baseDelayMs: 50, maxDelayMs: 1_000 } };

/**
 * The worker of the scenario: the circuit breaker as by default (10 failures, a 5-s rest), but the rest never doubled
 * past 5 s, so a broker that takes long to start (a RabbitMQ node on a busy machine) is tried again within 5 s of
 * being back instead of after a rest that doubled while it was starting.
 */
export const BURST_WORKER = { handlerTimeoutMs: 3_000, circuitBreaker: { failures: 10, cooldownMs: 5_000, maxCooldownMs: 5_000 } };

/** What the burst did. */
export interface Burst {
  /** Every published event's id, in publish order. */
  ids: string[];
  /** Events published but not yet delivered when the broker was stopped. */
  unfinishedAtStop: number;
  /** Milliseconds the broker took to accept clients again. */
  restartMs: number;
  /** Milliseconds from the stop until every event was published. */
  recoveryMs: number;
  /** Delivery attempts beyond the first, over all events (each a failed attempt or a re-send). */
  extraAttempts: number;
}

/**
 * Publishes BURST_EVENTS events in batches of 50; after the first 200, as soon as the worker has delivered some of
 * them, calls `stop()` (which must return once the broker is down) and then `start()` without waiting for it, so the
 * second half is published while the broker is down or starting. Resolves when every event is published.
 */
export async function burst(run: Running, stop: () => Promise<void>, start: () => Promise<number>): Promise<Burst> {
  const { sql, schema, outbox } = run.db;
  const ids: string[] = [];
  let unfinishedAtStop = 0;
  let restarted: Promise<number> | undefined;
  let stoppedAt = 0;
  for (let i = 0; i < BURST_EVENTS; i += BATCH) {
    const batch = await outbox.publishEvents(
      Array.from({ length: BATCH }, (_, j) => ({ type: "audit.tick", source: "audit", data: { n: i + j } })),
    );
    ids.push(...batch.map((e) => e.id));
    if (i + BATCH === RESTART_AT) {
      // Stop the broker once the worker has delivered some of the first half, while it delivers the rest.
      unfinishedAtStop = await firstDeliveries(run);
      stoppedAt = performance.now();
      await stop();
      restarted = start();
    }
  }
  const restartMs = await restarted!;
  const done = await waitFor(async () => {
    const [row] = await sql.unsafe(`select count(*)::int as n from "${schema}".events where status = 'published'`);
    return row.n === BURST_EVENTS;
  }, `all ${BURST_EVENTS} events published`, 60_000).catch((err: Error) => err);
  if (done instanceof Error) throw new Error(`${done.message}: ${await standing(run)}`);
  const recoveryMs = performance.now() - stoppedAt;
  const [row] = await sql.unsafe(
    `select coalesce(sum((d.value ->> 'attempts')::int - 1), 0)::int as n from "${schema}".events, jsonb_each(deliveries) d`,
  );
  return { ids, unfinishedAtStop, restartMs, recoveryMs, extraAttempts: row.n };
}

/**
 * Waits until the worker has delivered some of the first RESTART_AT events and resolves to how many of them are
 * unfinished: 0 when it delivered every one before the first look, which a busy machine (the whole suite at once)
 * allows. The count is boxed, because waitFor takes a bare 0 for "not yet" and would wait out its time.
 */
export async function firstDeliveries(run: Running, timeoutMs = 30_000): Promise<number> {
  const { sql, schema } = run.db;
  const seen = await waitFor(async () => {
    const [row] = await sql.unsafe(`select count(*) filter (where status <> 'published')::int as n from "${schema}".events`);
    return row.n < RESTART_AT ? { unfinished: row.n as number } : undefined;
  }, "the worker's first deliveries", timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${await standing(run)}`);
  });
  return seen.unfinished;
}

/** Where the events stand, by status, with attempts and a last error of each: what a timed-out wait reports. */
async function standing(run: Running): Promise<string> {
  const { sql, schema } = run.db;
  const rows = await sql.unsafe(
    `select status, count(*)::int as n, sum((d.value ->> 'attempts')::int)::int as attempts,
            min(d.value ->> 'lastError') as error
       from "${schema}".events, jsonb_each(deliveries) d group by status`,
  );
  return JSON.stringify(rows);
}

/** What the broker's own client read back, against what was published. */
export interface ReadBack {
  /** Messages read. */
  messages: number;
  /** Published events never read back (must be 0). */
  lost: number;
  /** Messages beyond the first for the same event id. */
  duplicates: number;
  /** Ids read back that were never published (must be 0). */
  unknown: number;
}

/** Counts `readIds` (one per message read from the broker) against the published `ids`. */
export function tally(ids: string[], readIds: string[]): ReadBack {
  const published = new Set(ids);
  const seen = new Set(readIds);
  return {
    messages: readIds.length,
    lost: ids.filter((id) => !seen.has(id)).length,
    duplicates: readIds.length - seen.size,
    unknown: [...seen].filter((id) => !published.has(id)).length,
  };
}

/**
 * The audit: every event read back, nothing unknown. Duplicates are allowed (and printed with the scenario's
 * figures); each scenario says where its duplicates come from.
 */
export function expectNothingLost(scenario: string, b: Burst, read: ReadBack, more: Record<string, number> = {}): void {
  summary(scenario, {
    published: b.ids.length,
    unfinished_at_stop: b.unfinishedAtStop,
    read_back: read.messages,
    duplicates: read.duplicates,
    extra_attempts: b.extraAttempts,
    lost: read.lost,
    restart_ms: Math.round(b.restartMs),
    recovered_ms: Math.round(b.recoveryMs),
    ...more,
  });
  expect(b.ids).toHaveLength(BURST_EVENTS);
  expect(read.lost).toBe(0);
  expect(read.unknown).toBe(0);
  expect(read.messages).toBe(BURST_EVENTS + read.duplicates);
}
