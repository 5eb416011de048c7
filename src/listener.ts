import postgres, { type Sql } from "postgres";
import type { Logger } from "./logger.ts";

/** Why the worker was woken. */
export type WakeReason = "notify" | "connect";

/**
 * One LISTEN connection of its own that never gives up: when the connection drops, it reconnects with backoff and
 * reports "connect", so the worker sweeps for anything published while nobody was listening.
 * (postgres.js's own `listen` drops a listener for good if a reconnect attempt fails.)
 */
export class Listener {
  #sql: Sql;
  #channel: string;
  #wake: (reason: WakeReason) => void;
  #logger: Logger;
  #stopped = false;
  #reconnecting = false;

  constructor(base: Sql, channel: string, wake: (reason: WakeReason) => void, logger: Logger) {
    this.#channel = channel;
    this.#wake = wake;
    this.#logger = logger;
    this.#sql = postgres({
      ...base.options,
      max: 1,
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotify: (ch: string) => {
        if (ch === this.#channel) this.#wake("notify");
      },
      onclose: () => {
        if (!this.#stopped) void this.#reconnect();
      },
    } as never);
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

  async #listen(): Promise<void> {
    await this.#sql.unsafe(`listen "${this.#channel}"`);
    this.#wake("connect");
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    let delay = 50;
    try {
      while (!this.#stopped) {
        try {
          await this.#listen();
          this.#logger.info("listener reconnected", { channel: this.#channel });
          return;
        } catch (err) {
          this.#logger.warn("listener reconnect failed; retrying", { channel: this.#channel, error: err, retryInMs: delay });
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
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
