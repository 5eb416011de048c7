/**
 * RabbitMQ (AMQP 0-9-1) as a pg-dispatch destination: `pg-dispatch/amqp`.
 *
 * @module
 */
import type { DeliveredEvent, DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError } from "../src/errors.ts";
import { assertKnownKeys } from "../src/options.ts";
import { storable } from "../src/text.ts";
import { type AmqpPropertyPrefix, amqpMessage } from "./amqp/binding.ts";
import { channelFailure } from "./amqp/outcome.ts";
import { abortable } from "./broker/abortable.ts";
import { reusable } from "./broker/connection.ts";
import { loadPeer } from "./broker/peer.ts";
import { describeError } from "./cause.ts";

export { type AmqpMessage, type AmqpPropertyPrefix, amqpMessage } from "./amqp/binding.ts";

/**
 * Options of {@link amqp}.
 *
 * @example
 * ```ts
 * const options: AmqpOptions = { url: "amqp://guest:guest@127.0.0.1:5672", exchange: "events", routingKey: "orders" };
 * ```
 */
export interface AmqpOptions {
  /** `amqp://user:password@host:port/vhost`, or `amqps://` for TLS. */
  url: string;
  /** The exchange to publish to; it must exist. `""` is the default exchange (the routing key names a queue). */
  exchange: string;
  /** The routing key. Default: the event's type, which a topic exchange routes on (`order.*`, `#`). */
  routingKey?: string | undefined;
  /** The application-property prefix: `cloudEvents:` (default) or `cloudEvents_` (for JMS-style consumers). */
  propertyPrefix?: AmqpPropertyPrefix | undefined;
  /** The destination's name, which keys its delivery state; defaults to `amqp:<exchange>`. */
  name?: string | undefined;
}

const KNOWN = ["url", "exchange", "routingKey", "propertyPrefix", "name"] as const;

interface Pending {
  resolve(): void;
  reject(err: unknown): void;
}

interface Session {
  conn: { close(): Promise<void> };
  channel: {
    publish(exchange: string, routingKey: string, content: Uint8Array, options: object, callback: (err: unknown) => void): boolean;
  };
  pending: Set<Pending>;
  /** message-ids that RabbitMQ returned as unroutable; the return always comes before the confirm. */
  returned: Set<string>;
  /** The error that closed the channel or connection, reported before the pending confirms are failed. */
  failure?: unknown;
}

/**
 * A destination that publishes each event to a RabbitMQ exchange in the CloudEvents AMQP binding's binary mode
 * (`cloudEvents:` application properties, `content-type`, the data as the body), persistent, with `message-id` set to
 * the event id. It publishes on a confirm channel with the mandatory flag: an event is delivered only when RabbitMQ
 * confirms it and routed it to at least one queue. An unroutable event (no queue bound for its routing key) is
 * retried, as is a lost connection; a missing exchange or a refused permission fails for good. RabbitMQ does not
 * de-duplicate: a re-sent event is a second message with the same `message-id`, which consumers de-duplicate on.
 * The ordering key travels as `cloudEvents:partitionkey`; events that share one reach each queue in publish order
 * because the worker sends one at a time per key over one channel. The client (`amqplib`, an optional peer
 * dependency) is loaded when the worker starts; the connection is opened on the first delivery, opened again after
 * it is lost, and closed by `outbox.close()`.
 *
 * @example
 * ```ts
 * import { amqp } from "pg-dispatch/amqp";
 *
 * outbox.register("order.*", amqp({ url: "amqp://guest:guest@127.0.0.1:5672", exchange: "events" }));
 * ```
 */
export function amqp(options: AmqpOptions): Destination {
  if (options === null || typeof options !== "object") {
    throw new DispatchError("invalid_option", 'amqp() takes an options object: amqp({ url: "amqp://127.0.0.1", exchange: "events" })');
  }
  assertKnownKeys(options, KNOWN, "amqp() options");
  if (typeof options.url !== "string" || !/^amqps?:\/\//i.test(options.url)) {
    throw new DispatchError("invalid_option", 'amqp() url must be an amqp:// or amqps:// URL, like "amqp://guest:guest@127.0.0.1:5672"', { field: "url" });
  }
  const exchange = options.exchange;
  if (typeof exchange !== "string") {
    throw new DispatchError("invalid_option", 'amqp() needs an exchange: pass { exchange: "events" } (or "" for the default exchange)', { field: "exchange" });
  }
  if (options.routingKey !== undefined && typeof options.routingKey !== "string") {
    throw new DispatchError("invalid_option", "amqp() routingKey must be a string", { field: "routingKey" });
  }
  const prefix = options.propertyPrefix ?? "cloudEvents:";
  if (prefix !== "cloudEvents:" && prefix !== "cloudEvents_") {
    throw new DispatchError("invalid_option", 'amqp() propertyPrefix must be "cloudEvents:" or "cloudEvents_"', { field: "propertyPrefix" });
  }
  const url = options.url;
  const shown = url.replace(/\/\/[^@/]*@/, "//");
  const where = `RabbitMQ exchange "${exchange}"`;
  const load = () => loadPeer(() => import("amqplib"), "amqplib", "amqp()");

  const session = reusable<Session>(async () => {
    const lib = await load();
    let conn: import("amqplib").ChannelModel;
    try {
      conn = await lib.connect(url, { timeout: 5_000 });
    } catch (err) {
      throw new DeliveryError(storable(`Could not connect to RabbitMQ at ${shown}: ${describeError(err)}`, 1000), { cause: err });
    }
    const s: Session = { conn, channel: undefined as never, pending: new Set(), returned: new Set() };
    // Whatever closes first, the connection or the channel, fails what is in flight and is forgotten; the next
    // delivery opens a fresh connection.
    function lost(): void {
      session.drop(s);
      const err = channelFailure(s.failure ?? new Error("the connection closed"), exchange);
      for (const p of s.pending) p.reject(err);
      s.pending.clear();
      void conn.close().catch(() => undefined);
    }
    conn.on("error", (err: unknown) => (s.failure ??= err));
    conn.on("close", lost);
    try {
      const channel = await conn.createConfirmChannel();
      channel.on("error", (err: unknown) => (s.failure ??= err));
      channel.on("close", lost);
      channel.on("return", (msg: { properties: { messageId?: unknown } }) => s.returned.add(String(msg.properties.messageId)));
      // A missing exchange is found before anything is sent (it closes this channel, and the open fails for good).
      if (exchange !== "") await channel.checkExchange(exchange);
      s.channel = channel as unknown as Session["channel"];
    } catch (err) {
      void conn.close().catch(() => undefined);
      throw channelFailure(s.failure ?? err, exchange);
    }
    return s;
  }, (s) => s.conn.close());

  async function deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
    const message = amqpMessage(event, ctx.orderingKey, prefix);
    const routingKey = options.routingKey ?? event.type;
    const s = await abortable(session.get(), ctx.signal, where);
    const Buffer = (globalThis as { Buffer?: { from(bytes: Uint8Array): Uint8Array } }).Buffer;
    const content = Buffer ? Buffer.from(message.body) : message.body;
    const confirmed = new Promise<void>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      s.pending.add(entry);
      const properties = {
        messageId: message.messageId,
        ...(message.contentType ? { contentType: message.contentType } : {}),
        headers: message.headers,
        persistent: true,
        mandatory: true,
        type: event.type,
      };
      try {
        s.channel.publish(exchange, routingKey, content, properties, (err) => {
          s.pending.delete(entry);
          const unroutable = s.returned.delete(message.messageId);
          // A closed channel fails its unconfirmed messages after it reported why it closed (a missing exchange...).
          if (err && s.failure !== undefined) reject(channelFailure(s.failure, exchange));
          else if (err) reject(new DeliveryError(`RabbitMQ did not confirm the message to ${where}: ${describeError(err)}`, { cause: err }));
          else if (unroutable) {
            reject(new DeliveryError(
              `RabbitMQ could not route the message: no queue is bound to exchange "${exchange}" for routing key ` +
                `"${routingKey}"; bind one (or give the exchange an alternate exchange)`,
            ));
          } else resolve();
        });
      } catch (err) {
        s.pending.delete(entry);
        reject(channelFailure(err, exchange));
      }
    });
    await abortable(confirmed, ctx.signal, where);
  }

  return {
    name: options.name ?? `amqp:${exchange}`,
    deliver,
    // Loads the client when the worker starts, so a missing package stops it at once; connecting waits for a delivery.
    async start() {
      await load();
    },
    close: () => session.close(),
  };
}
