/**
 * Redis Streams as a pg-dispatch destination: `pg-dispatch/redis`.
 *
 * @module
 */
import type { DeliveredEvent, DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError, PermanentError } from "../src/errors.ts";
import { assertKnownKeys, wholeNumber } from "../src/options.ts";
import { storable } from "../src/text.ts";
import { abortable } from "./broker/abortable.ts";
import { reusable } from "./broker/connection.ts";
import { loadPeer } from "./broker/peer.ts";
import { describeError } from "./cause.ts";
import { redisFields } from "./redis/binding.ts";
import { xaddFailure } from "./redis/outcome.ts";

export { redisFields } from "./redis/binding.ts";

/**
 * Options of {@link redisStream}.
 *
 * @example
 * ```ts
 * const options: RedisStreamOptions = { url: "redis://127.0.0.1:6379", stream: "events", maxLen: 1_000_000 };
 * ```
 */
export interface RedisStreamOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** The stream's key. */
  stream: string;
  /**
   * Create the stream if it does not exist (default true, as XADD does). With false, XADD runs with NOMKSTREAM and
   * an event for a stream that does not exist fails for good.
   */
  createStream?: boolean | undefined;
  /** Trim the stream to about this many entries on every XADD (`MAXLEN ~ n`). Default: never trimmed. */
  maxLen?: number | undefined;
  /** The destination's name, which keys its delivery state; defaults to `redis:<stream>`. */
  name?: string | undefined;
}

const KNOWN = ["url", "stream", "createStream", "maxLen", "name"] as const;

interface Client {
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  on(event: "error", listener: (err: unknown) => void): unknown;
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * A destination that appends each event to a Redis stream with XADD, as the fields `ce_<attribute>`,
 * `content-type` and `data` (see {@link redisFields}); an event is delivered when XADD answers with the entry's id.
 * Redis keeps no record of what it was sent, so a re-sent event (after a timeout that hid a successful XADD) is a
 * second entry with the same `ce_id`: consumers de-duplicate on it. A stream per ordering key would scatter the
 * events, so the ordering key travels as `ce_partitionkey`, and events that share one are appended in publish order
 * because the worker sends one at a time per key. A key of another type, an ACL refusal, or (with
 * `createStream: false`) a missing stream fails the delivery for good; a lost connection is retried. The client
 * (`redis`, an optional peer dependency) is loaded when the worker starts; the connection is opened on the first
 * delivery, reconnects on its own and is closed by `outbox.close()`. Commands are not queued while disconnected,
 * so a delivery fails (and is retried later) instead of waiting.
 *
 * @example
 * ```ts
 * import { redisStream } from "pg-dispatch/redis";
 *
 * outbox.register("*", redisStream({ url: "redis://127.0.0.1:6379", stream: "events" }));
 * ```
 */
export function redisStream(options: RedisStreamOptions): Destination {
  if (options === null || typeof options !== "object") {
    throw new DispatchError("invalid_option", 'redisStream() takes an options object: redisStream({ url: "redis://127.0.0.1:6379", stream: "events" })');
  }
  assertKnownKeys(options, KNOWN, "redisStream() options");
  if (typeof options.url !== "string" || !/^rediss?:\/\//i.test(options.url)) {
    throw new DispatchError("invalid_option", 'redisStream() url must be a redis:// or rediss:// URL, like "redis://127.0.0.1:6379"', { field: "url" });
  }
  const stream = options.stream;
  if (typeof stream !== "string" || stream === "") {
    throw new DispatchError("invalid_option", 'redisStream() needs a stream: pass { stream: "events" }', { field: "stream" });
  }
  if (options.createStream !== undefined && typeof options.createStream !== "boolean") {
    throw new DispatchError("invalid_option", "redisStream() createStream must be true or false", { field: "createStream" });
  }
  const maxLen = options.maxLen === undefined ? undefined : wholeNumber(options.maxLen, "maxLen", 1, 0);
  const url = options.url;
  const shown = url.replace(/\/\/[^@/]*@/, "//");
  // XADD key [NOMKSTREAM] [MAXLEN ~ n] * field value ...: the command as Redis documents it, one array.
  const head = ["XADD", stream, ...(options.createStream === false ? ["NOMKSTREAM"] : []), ...(maxLen ? ["MAXLEN", "~", String(maxLen)] : []), "*"];

  const load = () => loadPeer(() => import("redis"), "redis", "redisStream()");

  const client = reusable<Client>(async () => {
    const { createClient } = await load();
    let connected = false;
    const c = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 5_000,
        // Before the first connection a failure is the delivery's to report (and retry); after it, reconnect for ever.
        reconnectStrategy: (retries: number, cause: Error) => connected ? Math.min(50 * 2 ** retries, 2_000) : cause,
      },
    }) as unknown as Client;
    // node-redis emits every socket failure as an event; without a listener it would crash the process.
    c.on("error", () => undefined);
    try {
      await c.connect();
    } catch (err) {
      throw new DeliveryError(storable(`Could not connect to Redis at ${shown}: ${describeError(err)}`, 1000), { cause: err });
    }
    connected = true;
    return c;
  }, (c) => c.close());

  async function deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
    const fields = redisFields(event, ctx.orderingKey);
    const args = [...head, ...Object.entries(fields).flat()];
    const where = `Redis stream "${stream}"`;
    const c = await abortable(client.get(), ctx.signal, where);
    let id: unknown;
    try {
      id = await abortable(c.sendCommand(args), ctx.signal, where);
    } catch (err) {
      throw xaddFailure(err, stream);
    }
    if (id === null) {
      throw new PermanentError(
        `Redis stream "${stream}" does not exist and the destination was made with createStream: false: create it ` +
          `(XGROUP CREATE ${stream} <group> $ MKSTREAM) or drop the option`,
      );
    }
  }

  return {
    name: options.name ?? `redis:${stream}`,
    deliver,
    // Loads the client when the worker starts, so a missing package stops it at once; connecting waits for a delivery.
    async start() {
      await load();
    },
    close: () => client.close(),
  };
}
