/**
 * NATS JetStream as a pg-dispatch destination: `pg-dispatch/nats`.
 *
 * @module
 */
import type { Destination, DeliveredEvent, DeliveryContext } from "../src/destination.ts";
import { DeliveryError, DispatchError } from "../src/errors.ts";
import { assertKnownKeys, wholeNumber } from "../src/options.ts";
import { storable } from "../src/text.ts";
import { abortable } from "./broker/abortable.ts";
import { reusable } from "./broker/connection.ts";
import { loadPeer } from "./broker/peer.ts";
import { describeError } from "./cause.ts";
import { natsMessage } from "./nats/binding.ts";
import { publishFailure, type StreamFinder } from "./nats/outcome.ts";

export { type NatsMessage, natsMessage } from "./nats/binding.ts";

/**
 * Options of {@link nats}.
 *
 * @example
 * ```ts
 * const options: NatsOptions = { servers: "nats://127.0.0.1:4222", subject: "events.orders" };
 * ```
 */
export interface NatsOptions {
  /** The server(s) to connect to: `host:port` or `nats://host:port`, one or several (the client fails over). */
  servers: string | string[];
  /** The subject every event is published on; a JetStream stream must capture it. */
  subject: string;
  /** The destination's name, which keys its delivery state; defaults to `nats:<subject>`. */
  name?: string | undefined;
  /**
   * More options for the client's `connect()`, passed as they are: credentials (`user`, `pass`, `token`,
   * `authenticator`), `tls`, `name`. Reconnecting is on, without a limit, unless you say otherwise here.
   */
  connection?: Record<string, unknown> | undefined;
  /** How long to wait for JetStream's PubAck, in milliseconds. Default 10 s (the worker's timeout also applies). */
  ackTimeoutMs?: number | undefined;
}

const KNOWN = ["servers", "subject", "name", "connection", "ackTimeoutMs"] as const;
const PACKAGES = "@nats-io/transport-node @nats-io/jetstream";

interface Session {
  nc: { close(): Promise<void>; closed(): Promise<void | Error> };
  js: { publish(subject: string, data: Uint8Array, options: object): Promise<{ duplicate: boolean }> };
  streams(): Promise<StreamFinder>;
  headers(): { append(key: string, value: string): void };
}

/**
 * A destination that publishes each event to a NATS JetStream subject in the CloudEvents NATS binding's binary mode
 * (`ce-*` headers, `content-type`, the data as payload), with `Nats-Msg-Id` set to the event id, so JetStream drops
 * a re-sent event inside the stream's duplicate window (2 minutes unless the stream says otherwise) and answers it
 * as a duplicate, which counts as delivered. An event is delivered when JetStream's PubAck says the stream stored it.
 * The ordering key travels as the `ce-partitionkey` header; events that share one reach the stream in publish order
 * because the worker sends one at a time per key. No stream for the subject, or a permission violation, fails the
 * delivery for good; a lost connection or a missing PubAck is retried. The client (`@nats-io/transport-node` and
 * `@nats-io/jetstream`, optional peer dependencies) is loaded when the worker starts; the connection is opened on
 * the first delivery, reconnects on its own and is closed by `outbox.close()`.
 *
 * @example
 * ```ts
 * import { nats } from "pg-dispatch/nats";
 *
 * outbox.register("order.*", nats({ servers: "127.0.0.1:4222", subject: "events.orders" }));
 * ```
 */
export function nats(options: NatsOptions): Destination {
  if (options === null || typeof options !== "object") {
    throw new DispatchError("invalid_option", 'nats() takes an options object: nats({ servers: "127.0.0.1:4222", subject: "events" })');
  }
  assertKnownKeys(options, KNOWN, "nats() options");
  const servers = typeof options.servers === "string" ? [options.servers] : options.servers;
  if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== "string" || s === "")) {
    throw new DispatchError("invalid_option", 'nats() needs servers: pass { servers: "127.0.0.1:4222" } or a list of them', { field: "servers" });
  }
  const subject = options.subject;
  if (typeof subject !== "string" || !/^[^\s*>]+$/.test(subject) || subject.startsWith(".") || subject.endsWith(".") || subject.includes("..")) {
    throw new DispatchError(
      "invalid_option",
      `nats() subject must be a subject without spaces or wildcards, like "events.orders", got ${JSON.stringify(subject)}`,
      { field: "subject" },
    );
  }
  const ackTimeoutMs = wholeNumber(options.ackTimeoutMs, "ackTimeoutMs", 1, 10_000);
  const where = `JetStream subject "${subject}"`;

  async function load() {
    const [transport, jetstream] = await Promise.all([
      loadPeer(() => import("@nats-io/transport-node"), PACKAGES, "nats()"),
      loadPeer(() => import("@nats-io/jetstream"), PACKAGES, "nats()"),
    ]);
    return { transport, jetstream };
  }

  const session = reusable<Session>(async () => {
    const { transport, jetstream } = await load();
    let nc;
    try {
      nc = await transport.connect({
        servers,
        name: "pg-dispatch",
        reconnect: true,
        maxReconnectAttempts: -1,
        ...options.connection,
      });
    } catch (err) {
      throw new DeliveryError(storable(`Could not connect to NATS at ${servers.join(", ")}: ${describeError(err)}`, 1000), { cause: err });
    }
    let manager: Promise<StreamFinder> | undefined;
    const opened: Session = {
      nc,
      js: jetstream.jetstream(nc, { timeout: ackTimeoutMs }) as unknown as Session["js"],
      // A manager that could not be made (JetStream not yet up, a timeout) is not kept: the next look tries again.
      streams: () =>
        (manager ??= jetstream.jetstreamManager(nc, { timeout: ackTimeoutMs }).then((m) => m.streams, (err: unknown) => {
          manager = undefined;
          throw err;
        })),
      headers: () => transport.headers(),
    };
    // Closed for good (reconnects exhausted, or an auth failure): the next delivery connects afresh.
    void nc.closed().then(() => session.drop(opened));
    return opened;
  }, (s) => s.nc.close());

  async function deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
    const message = natsMessage(event, ctx.orderingKey);
    const s = await abortable(session.get(), ctx.signal, where);
    const headers = s.headers();
    for (const [name, value] of message.headers) headers.append(name, value);
    try {
      await abortable(s.js.publish(subject, message.data, { headers, timeout: ackTimeoutMs }), ctx.signal, where);
    } catch (err) {
      throw await publishFailure(err, subject, s.streams);
    }
  }

  return {
    name: options.name ?? `nats:${subject}`,
    deliver,
    // Loads the client when the worker starts, so a missing package stops it at once; connecting waits for a delivery.
    async start() {
      await load();
    },
    close: () => session.close(),
  };
}
