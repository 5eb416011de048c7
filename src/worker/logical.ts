import postgres, { type Sql } from "postgres";
import type { Query } from "../client.ts";
import { DispatchError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { reconnectDelayMs } from "../retry.ts";
import type { Schema } from "../schema.ts";
import type { WakeReason } from "./wake.ts";

/** The part of postgres.js's replication stream this file uses. */
interface ReplicationStream {
  write(chunk: Uint8Array): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/** pgoutput and replication protocol message kinds (first byte). */
const XLOG_DATA = 0x77; // 'w'
const KEEPALIVE = 0x6b; // 'k'
const INSERT = 0x49; // 'I'
const COMMIT = 0x43; // 'C'
/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
/** How often the slot's confirmed position moves on, so a long-lived worker holds back little WAL. */
const FEEDBACK_MS = 10_000;
/**
 * A second look this long after a commit decoded from the WAL: the walsender may send a commit a moment before the
 * committing backend has made its rows visible to other snapshots, and a claim in that moment finds nothing.
 */
const TRAILING_MS = 20;

/**
 * Wakes the worker when an insert into the outbox commits, by following the WAL: a temporary logical replication
 * slot (pgoutput) on a publication of the events table's inserts. The producer's transaction does nothing but its
 * insert. The slot is temporary, so it disappears with the connection and a dead worker never pins WAL; a reconnect
 * makes a new slot and reports "connect", so the worker sweeps for whatever committed in between.
 */
export class LogicalFollower {
  readonly #base: Sql;
  readonly #query: Query;
  readonly #schema: Schema;
  readonly #wake: (reason: WakeReason) => void;
  readonly #logger: Logger;
  readonly #url: string | undefined;
  #sql: Sql | null = null;
  #stream: ReplicationStream | null = null;
  #stopped = false;
  #reconnecting = false;
  #sawInsert = false;
  /** Which connection is current: events from an older one (a late close) are ignored. */
  #generation = 0;
  #lsn = BigInt(0);
  #trailing: ReturnType<typeof setTimeout> | null = null;
  #feedback: ReturnType<typeof setInterval> | null = null;

  constructor(base: Sql, query: Query, schema: Schema, wake: (reason: WakeReason) => void, logger: Logger, url?: string) {
    this.#base = base;
    this.#query = query;
    this.#schema = schema;
    this.#wake = wake;
    this.#logger = logger;
    this.#url = url;
  }

  /** Checks the server and the publication, then starts following; rejects with a DispatchError saying what to fix. */
  async start(): Promise<void> {
    await ensurePublication(this.#query, this.#schema);
    try {
      await this.#follow();
    } catch (err) {
      await this.stop();
      throw replicationError(err);
    }
    this.#feedback = setInterval(() => this.#confirm(), FEEDBACK_MS);
  }

  async #follow(): Promise<void> {
    const generation = ++this.#generation;
    const own = {
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotice: () => {},
      onclose: () => this.#lost(generation),
    };
    const sql = this.#url === undefined
      ? postgres({ ...this.#base.options, ...own, connection: { ...this.#base.options.connection, replication: "database" } } as never)
      : postgres(this.#url, { ...own, connection: { replication: "database" } } as never);
    this.#sql = sql;
    const slot = `pg_dispatch_${crypto.randomUUID().replaceAll("-", "")}`;
    const [created] = await sql.unsafe(`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput NOEXPORT_SNAPSHOT`);
    const stream = await sql.unsafe(
      `START_REPLICATION SLOT ${slot} LOGICAL ${created.consistent_point} (proto_version '1', publication_names '"${publicationName(this.#schema)}"')`,
    ).writable();
    const follow = stream as unknown as ReplicationStream;
    this.#stream = follow;
    this.#sawInsert = false;
    follow.on("data", (chunk: Uint8Array) => this.#receive(chunk, follow));
    follow.on("error", () => this.#lost(generation));
    follow.on("close", () => this.#lost(generation));
    this.#wake("connect");
  }

  #receive(chunk: Uint8Array, stream: ReplicationStream): void {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (chunk[0] === XLOG_DATA) {
      // The publication carries only inserts into the events table, so any insert is one of ours; wake at its commit.
      const kind = chunk[25];
      if (kind === INSERT) this.#sawInsert = true;
      else if (kind === COMMIT && this.#sawInsert) {
        this.#sawInsert = false;
        this.#wake("insert");
        this.#trailing ??= setTimeout(() => {
          this.#trailing = null;
          this.#wake("insert");
        }, TRAILING_MS);
      }
      this.#advance(view.getBigUint64(9));
    } else if (chunk[0] === KEEPALIVE) {
      this.#advance(view.getBigUint64(1));
      if (chunk[17]) this.#confirm(stream);
    }
  }

  #advance(lsn: bigint): void {
    if (lsn > this.#lsn) this.#lsn = lsn;
  }

  /** Tells the server everything up to the last position seen is done: the slot needs no older WAL. */
  #confirm(stream: ReplicationStream | null = this.#stream): void {
    if (!stream || this.#lsn === BigInt(0)) return;
    const reply = new Uint8Array(34);
    const view = new DataView(reply.buffer);
    reply[0] = 0x72; // 'r': standby status update
    view.setBigUint64(1, this.#lsn);
    view.setBigUint64(9, this.#lsn);
    view.setBigUint64(17, this.#lsn);
    view.setBigInt64(25, BigInt(Date.now() - PG_EPOCH_MS) * BigInt(1000));
    try {
      stream.write(reply);
    } catch {
      // the connection is going; the reconnect makes a new slot
    }
  }

  #lost(generation: number): void {
    if (this.#stopped || this.#reconnecting || generation !== this.#generation) return;
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    this.#reconnecting = true;
    let attempt = 0;
    try {
      while (!this.#stopped) {
        const old = this.#sql;
        this.#sql = null;
        this.#stream = null;
        await old?.end({ timeout: 0 }).catch(() => {});
        if (this.#stopped) return;
        try {
          await this.#follow();
          this.#logger.info("logical follower reconnected", { schema: this.#schema.name });
          return;
        } catch (err) {
          const delay = reconnectDelayMs(++attempt, 50, 5000);
          this.#logger.warn("logical follower reconnect failed; retrying", { schema: this.#schema.name, error: err, retryInMs: delay });
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Closes the replication connection; its temporary slot goes with it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#trailing) clearTimeout(this.#trailing);
    if (this.#feedback) clearInterval(this.#feedback);
    await this.#sql?.end({ timeout: 0 }).catch(() => {});
  }
}

/** The publication the logical mode follows: named after the schema, holding the inserts into its events table. */
export function publicationName(schema: Schema): string {
  return schema.name;
}

/**
 * Refuses a server without `wal_level=logical`, and creates the publication when it is missing. It is made here, at
 * worker start, rather than in a migration: migrations must run on every server, and this needs the logical level
 * and the right to create a publication (database CREATE privilege, owning the table), which only this mode asks for.
 */
export async function ensurePublication(query: Query, schema: Schema): Promise<void> {
  const [{ level }] = await query("select current_setting('wal_level') as level", []);
  if (level !== "logical") {
    throw new DispatchError(
      "logical_unavailable",
      `wake: "logical" needs wal_level=logical, and this server runs with wal_level=${level}. Run ALTER SYSTEM SET wal_level = logical ` +
        `and restart PostgreSQL (managed services: enable logical replication), or use wake: "poll".`,
    );
  }
  const name = publicationName(schema);
  const has = async (): Promise<boolean> =>
    (await query("select 1 from pg_publication_tables where pubname = $1 and schemaname = $2 and tablename = 'events'", [name, schema.name])).length > 0;
  if (await has()) return;
  const create = `create publication "${name}" for table ${schema.quoted}.events with (publish = 'insert')`;
  try {
    await query(create, []);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "42710" && (await has())) return; // another worker created it a moment ago
    throw new DispatchError(
      "logical_unavailable",
      code === "42710"
        ? `wake: "logical" follows the publication "${name}", which exists without ${schema.quoted}.events; drop it or add the table: alter publication "${name}" add table ${schema.quoted}.events.`
        : `wake: "logical" needs the publication "${name}", and creating it failed (${(err as Error).message}). Run as the table's owner: ${create}.`,
      { cause: err },
    );
  }
}

/** Says what to fix when the replication connection cannot start. */
function replicationError(err: unknown): unknown {
  if (err instanceof DispatchError) return err;
  const code = (err as { code?: string }).code;
  if (code === "42501" || code === "28000") {
    return new DispatchError(
      "logical_unavailable",
      `wake: "logical" needs a replication connection, which the server refused (${(err as Error).message}). Grant it with ALTER ROLE <role> REPLICATION, ` +
        `check pg_hba.conf, or use wake: "poll".`,
      { cause: err },
    );
  }
  // PgBouncer answers a replication startup with a protocol violation naming the parameter.
  if (code === "08P01" && /replication/.test((err as Error).message)) {
    return new DispatchError(
      "logical_unavailable",
      `wake: "logical" needs a replication connection, and this one goes through a pooler that does not pass them (${(err as Error).message}). ` +
        `Give the Outbox a listenUrl that connects to PostgreSQL directly, or use wake: "poll".`,
      { cause: err },
    );
  }
  return err;
}
