import postgres, { type Sql } from "postgres";
import type { Query } from "../client.ts";
import type { Logger } from "../logger.ts";
import { reconnectDelayMs } from "../retry.ts";
import type { WakeReason } from "./wake.ts";

/**
 * One LISTEN connection of its own that never gives up: when the connection drops, it reconnects with backoff and
 * reports "connect", so the worker sweeps for anything published while nobody was listening.
 * (postgres.js's own `listen` drops a listener for good if a reconnect attempt fails.)
 * With `url` it connects there (a direct connection past a transaction pooler) instead of where `base` does.
 */
export class Listener {
  #sql: Sql;
  #channel: string;
  #wake: (reason: WakeReason) => void;
  #logger: Logger;
  #stopped = false;
  #reconnecting = false;
  /** Self-test notifications in flight, by payload. */
  readonly #probes = new Map<string, () => void>();

  constructor(base: Sql, channel: string, wake: (reason: WakeReason) => void, logger: Logger, url?: string) {
    this.#channel = channel;
    this.#wake = wake;
    this.#logger = logger;
    const own = {
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (ch: string, payload: string) => {
        if (ch !== this.#channel) return;
        const heard = this.#probes.get(payload);
        if (heard) heard();
        else this.#wake("notify");
      },
      onclose: () => {
        if (!this.#stopped) void this.#reconnect();
      },
    };
    this.#sql = url === undefined
      ? postgres({ ...base.options, ...own } as never)
      : postgres(url, { onnotice: () => {}, ...own } as never);
  }

  /** Connects and listens; if the first attempt fails it closes everything and rejects. */
  async start(): Promise<void> {
    try {
      await this.#listen();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Sends a NOTIFY through `query` (the outbox's pool) and says whether this connection hears it within `timeoutMs`.
   * It does not through a transaction pooler (PgBouncer's transaction mode), where LISTEN lands on a server
   * connection that is handed to other clients.
   */
  async probe(query: Query, timeoutMs: number): Promise<boolean> {
    const token = `probe:${crypto.randomUUID()}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const heard = new Promise<boolean>((resolve) => {
      this.#probes.set(token, () => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      await query("select pg_notify($1, $2)", [this.#channel, token]);
      return await heard;
    } finally {
      clearTimeout(timer);
      this.#probes.delete(token);
    }
  }

  async #listen(): Promise<void> {
    await this.#sql.unsafe(`listen "${this.#channel}"`);
    this.#wake("connect");
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    let attempt = 0;
    try {
      while (!this.#stopped) {
        try {
          await this.#listen();
          this.#logger.info("listener reconnected", { channel: this.#channel });
          return;
        } catch (err) {
          const delay = reconnectDelayMs(++attempt, 50, 5000);
          this.#logger.warn("listener reconnect failed; retrying", { channel: this.#channel, error: err, retryInMs: delay });
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#sql.end({ timeout: 1 });
  }
}
