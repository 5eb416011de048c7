import type { Sql } from "postgres";
import type { Query } from "../client.ts";
import { DispatchError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Schema } from "../schema.ts";
import { Listener } from "./listener.ts";
import { LogicalFollower } from "./logical.ts";
import { Poller } from "./poll.ts";

/**
 * How workers learn of new events:
 * - `"notify"`: publish sends a NOTIFY in the producer's transaction and the worker LISTENs (instant; every
 *   notifying commit takes PostgreSQL's cluster-wide notify lock).
 * - `"logical"`: publish only inserts; the worker follows the WAL through a temporary logical replication slot
 *   (instant; needs `wal_level=logical` and a role with REPLICATION).
 * - `"poll"`: publish only inserts; the worker asks for due events every `pollIntervalMs` (works everywhere).
 *
 * @example
 * ```ts
 * const outbox = new Outbox({ sql, wake: "poll" });
 * await outbox.worker({ pollIntervalMs: 100 }).start();
 * ```
 */
export type WakeMode = "notify" | "logical" | "poll";

/** Why the worker was woken: a notification, a (re)connect that calls for a sweep, a poll that found work, an insert in the WAL. */
export type WakeReason = "notify" | "connect" | "poll" | "insert";

const MODES: readonly WakeMode[] = ["notify", "logical", "poll"];

/** How long the notify mode's start-up self-test waits for its own NOTIFY. */
export const PROBE_MS = 1000;

/** Validates the `wake` option. */
export function wakeMode(value: unknown): WakeMode {
  if (value === undefined) return "notify";
  if (!MODES.includes(value as WakeMode)) {
    throw new DispatchError("invalid_option", `wake must be one of ${MODES.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(value) ?? String(value)}.`, { field: "wake" });
  }
  return value as WakeMode;
}

/** Validates the `listenUrl` option: a postgres:// URL, or absent. */
export function listenUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^postgres(ql)?:\/\//.test(value)) {
    throw new DispatchError("invalid_option", "listenUrl must be a postgres:// URL of a direct connection to the server (not through a transaction pooler).", { field: "listenUrl" });
  }
  return value;
}

/** What a waker needs. */
export interface WakeDeps {
  sql: Sql;
  query: Query;
  schema: Schema;
  logger: Logger;
  mode: WakeMode;
  listenUrl?: string | undefined;
  pollIntervalMs: number;
}

/** A running wake-up source; the worker stops it last. */
export interface Waker {
  /** The mode in effect: "poll" when notify fell back to polling. */
  readonly mode: WakeMode;
  stop(): Promise<void>;
}

/**
 * Starts the wake-up source for `deps.mode`. The notify mode tests itself first: when its own NOTIFY does not reach
 * the listener within a second (LISTEN through a transaction pooler), it warns and polls instead, so a misplaced
 * listener costs latency, not silence until the safety sweep.
 */
export async function startWaker(deps: WakeDeps, wake: (reason: WakeReason) => void): Promise<Waker> {
  const { sql, query, schema, logger } = deps;
  if (deps.mode === "logical") {
    const follower = new LogicalFollower(sql, query, schema, wake, logger, deps.listenUrl);
    await follower.start();
    // Retries made by hand (retryEvent, the dashboard) update rows rather than insert them, so the WAL stream does
    // not announce them; they send a NOTIFY from outside any producer's transaction, heard here.
    let listener: Listener | null = new Listener(sql, schema.channel, wake, logger, deps.listenUrl);
    try {
      await listener.start();
      if (!(await listener.probe(query, PROBE_MS))) {
        await listener.stop();
        listener = null;
        logger.warn("LISTEN does not work on this connection (a transaction pooler?): retried events wait for the safety sweep. Give the Outbox a listenUrl that connects to PostgreSQL directly.", { schema: schema.name });
      }
    } catch (err) {
      await follower.stop();
      throw err;
    }
    return {
      mode: "logical",
      async stop(): Promise<void> {
        await Promise.all([follower.stop(), listener?.stop()]);
      },
    };
  }
  if (deps.mode === "notify") {
    const listener = new Listener(sql, schema.channel, wake, logger, deps.listenUrl);
    await listener.start();
    if (await listener.probe(query, PROBE_MS)) return { mode: "notify", stop: () => listener.stop() };
    await listener.stop();
    logger.warn(
      "LISTEN does not work on this connection (a transaction pooler such as PgBouncer?): the worker's own NOTIFY did not arrive. " +
        "Polling instead; give the Outbox a listenUrl that connects to PostgreSQL directly, or choose wake: \"poll\" or \"logical\".",
      { schema: schema.name, pollIntervalMs: deps.pollIntervalMs, listenUrl: deps.listenUrl !== undefined },
    );
  }
  const poller = new Poller(query, schema, deps.pollIntervalMs, wake, logger);
  poller.start();
  return {
    mode: "poll",
    stop(): Promise<void> {
      poller.stop();
      return Promise.resolve();
    },
  };
}
