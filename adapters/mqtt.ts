/**
 * MQTT (5 or 3.1.1) as a pg-dispatch destination: `pg-dispatch/mqtt`.
 *
 * @module
 */
import type { DeliveredEvent, DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError } from "../src/errors.ts";
import { assertKnownKeys } from "../src/options.ts";
import { storable } from "../src/text.ts";
import { abortable } from "./broker/abortable.ts";
import { reusable } from "./broker/connection.ts";
import { loadPeer } from "./broker/peer.ts";
import { describeError } from "./cause.ts";
import { mqttMessage } from "./mqtt/binding.ts";
import { publishFailure } from "./mqtt/outcome.ts";

export { type MqttMessage, mqttMessage } from "./mqtt/binding.ts";

/**
 * Options of {@link mqtt}.
 *
 * @example
 * ```ts
 * const options: MqttOptions = { url: "mqtt://127.0.0.1:1883", topic: "events/orders", qos: 1 };
 * ```
 */
export interface MqttOptions {
  /** `mqtt://host:port`, `mqtts://` for TLS, or `ws://` / `wss://`; credentials as `mqtt://user:password@host`. */
  url: string;
  /** The topic every event is published to (no wildcards). */
  topic: string;
  /** 1 (default, delivered on PUBACK) or 2 (delivered on PUBCOMP). QoS 0 has no acknowledgement, so it is refused. */
  qos?: 1 | 2 | undefined;
  /** 5 (default): binary mode with User Properties. 4 (MQTT 3.1.1): structured mode, the event as JSON. */
  protocolVersion?: 4 | 5 | undefined;
  /** The destination's name, which keys its delivery state; defaults to `mqtt:<topic>`. */
  name?: string | undefined;
  /** More options for MQTT.js's `connect()`, passed as they are (`clientId`, `username`, `password`, TLS options). */
  connection?: Record<string, unknown> | undefined;
}

const KNOWN = ["url", "topic", "qos", "protocolVersion", "name", "connection"] as const;

interface Client {
  connected: boolean;
  publishAsync(topic: string, payload: Uint8Array, options: object): Promise<unknown>;
  endAsync(): Promise<void>;
  on(event: "error", listener: (err: unknown) => void): unknown;
}

/**
 * A destination that publishes each event to an MQTT topic in the CloudEvents MQTT binding (MQTT 5: User Properties
 * and Content Type; MQTT 3.1.1: structured JSON), at QoS 1: an event is delivered when the broker's PUBACK accepts
 * it. That means the broker took it, not that anyone subscribes: MQTT has no missing topic to report. MQTT does not
 * de-duplicate QoS 1 messages either: a re-sent event is a second message with the same `id` user property (or
 * `id` in the JSON), which subscribers de-duplicate on. The ordering key travels as the `partitionkey` property; one
 * connection keeps publish order on a topic, and the worker sends one event at a time per key. A refusal that no
 * retry can fix (not authorized, bad topic) fails for good; a lost connection is retried. The client (`mqtt`,
 * MQTT.js, an optional peer dependency) is loaded when the worker starts; the connection is opened on the first
 * delivery, reconnects on its own, and is closed by `outbox.close()`. While it is reconnecting a delivery fails
 * (and is retried) rather than queueing in the client.
 *
 * @example
 * ```ts
 * import { mqtt } from "pg-dispatch/mqtt";
 *
 * outbox.register("sensor.*", mqtt({ url: "mqtt://127.0.0.1:1883", topic: "events/sensors" }));
 * ```
 */
export function mqtt(options: MqttOptions): Destination {
  if (options === null || typeof options !== "object") {
    throw new DispatchError("invalid_option", 'mqtt() takes an options object: mqtt({ url: "mqtt://127.0.0.1:1883", topic: "events" })');
  }
  assertKnownKeys(options, KNOWN, "mqtt() options");
  if (typeof options.url !== "string" || !/^(mqtts?|wss?):\/\//i.test(options.url)) {
    throw new DispatchError("invalid_option", 'mqtt() url must be an mqtt://, mqtts://, ws:// or wss:// URL, like "mqtt://127.0.0.1:1883"', { field: "url" });
  }
  const topic = options.topic;
  if (typeof topic !== "string" || topic === "" || (/[+#]/.test(topic) || topic.includes("\0"))) {
    throw new DispatchError("invalid_option", `mqtt() topic must be a topic without wildcards, like "events/orders", got ${JSON.stringify(topic)}`, { field: "topic" });
  }
  const qos = options.qos ?? 1;
  if (qos !== 1 && qos !== 2) {
    throw new DispatchError("invalid_option", "mqtt() qos must be 1 or 2: QoS 0 is never acknowledged, so a delivery could not be confirmed", { field: "qos" });
  }
  const protocolVersion = options.protocolVersion ?? 5;
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw new DispatchError("invalid_option", "mqtt() protocolVersion must be 5 (MQTT 5) or 4 (MQTT 3.1.1)", { field: "protocolVersion" });
  }
  const url = options.url;
  const shown = url.replace(/\/\/[^@/]*@/, "//");
  const where = `MQTT topic "${topic}"`;
  const load = () => loadPeer(() => import("mqtt"), "mqtt", "mqtt()");

  const client = reusable<Client>(async () => {
    const lib = await load();
    try {
      // No retries for the first connection: a broker that is down fails this delivery (retried later). Once
      // connected, the client reconnects on its own.
      const c = await lib.connectAsync(url, { protocolVersion, reconnectPeriod: 1_000, connectTimeout: 5_000, ...options.connection }, false);
      c.on("error", () => undefined);
      return c as unknown as Client;
    } catch (err) {
      throw new DeliveryError(storable(`Could not connect to the MQTT broker at ${shown}: ${describeError(err)}`, 1000), { cause: err });
    }
  }, (c) => c.endAsync());

  async function deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
    const message = mqttMessage(event, protocolVersion, ctx.orderingKey);
    const c = await abortable(client.get(), ctx.signal, where);
    // MQTT.js would hold the message until it reconnects, past the attempt's timeout; fail now and retry later.
    if (!c.connected) throw new DeliveryError(`The connection to the MQTT broker at ${shown} is down; reconnecting`);
    const publishOptions = { qos, ...(message.properties ? { properties: message.properties } : {}) };
    try {
      await abortable(c.publishAsync(topic, bytes(message.payload), publishOptions), ctx.signal, where);
    } catch (err) {
      throw publishFailure(err, topic);
    }
  }

  return {
    name: options.name ?? `mqtt:${topic}`,
    deliver,
    // Loads the client when the worker starts, so a missing package stops it at once; connecting waits for a delivery.
    async start() {
      await load();
    },
    close: () => client.close(),
  };
}

// MQTT.js writes Buffers (it runs where Node's Buffer exists); a plain Uint8Array would be taken for something else.
function bytes(payload: Uint8Array): Uint8Array {
  const Buffer = (globalThis as { Buffer?: { from(bytes: Uint8Array): Uint8Array } }).Buffer;
  return Buffer ? Buffer.from(payload) : payload;
}
