import { DeliveryError, PermanentError } from "../../src/errors.ts";
import type { PubSubMessage } from "./message.ts";
import { abortable, type PubSubTarget, type PubSubTransport, topicNotFound } from "./transport.ts";

/**
 * The part of `@google-cloud/pubsub`'s `PubSub` client this adapter uses. Pass your own instance as the `client`
 * option to share credentials and connections; the adapter then never closes it.
 *
 * @example
 * ```ts
 * import { PubSub } from "@google-cloud/pubsub";
 * const client: PubSubClient = new PubSub({ projectId: "my-project" });
 * ```
 */
export interface PubSubClient {
  /** The project the client publishes to by default. */
  projectId?: string;
  /** A topic handle; the adapter asks for one with message ordering enabled. */
  topic(name: string, options?: { messageOrdering?: boolean }): PubSubTopic;
  /** Closes the client's connections. */
  close?(): Promise<void>;
}

/**
 * The part of `@google-cloud/pubsub`'s `Topic` this adapter uses.
 *
 * @example
 * ```ts
 * const topic: PubSubTopic = new PubSub().topic("events", { messageOrdering: true });
 * ```
 */
export interface PubSubTopic {
  /** Queues a message into the client's batch and resolves with its id once published. */
  publishMessage(message: { data?: Uint8Array; attributes?: Record<string, string>; orderingKey?: string }): Promise<string>;
  /** Lets an ordering key publish again after a failure paused it. */
  resumePublishing(orderingKey: string): void;
  /** Sends every queued message now. */
  flush(): Promise<void>;
}

// gRPC status codes (grpc/doc/statuscodes.md) that no retry can fix.
const NOT_FOUND = 5;
const PERMANENT = new Set([3 /* INVALID_ARGUMENT */, 7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */]);

/**
 * Publishes through the official `@google-cloud/pubsub` client, loaded on first use so users of other destinations
 * never load it. It batches on its own (`publishMessage`), and the topic is opened with message ordering so
 * `orderingKey` is honoured; after an ordered publish fails the key is resumed, so one bad key does not wedge it.
 *
 * @example
 * ```ts
 * const transport = grpcTransport({ projectId: "p", topic: "events", topicPath: "projects/p/topics/events", emulator: false });
 * await transport.publish(message, AbortSignal.timeout(30_000));
 * ```
 */
export function grpcTransport(target: PubSubTarget, client?: PubSubClient): PubSubTransport {
  let created: PubSubClient | undefined;
  let topic: Promise<PubSubTopic> | undefined;

  async function open(): Promise<PubSubTopic> {
    let pubsub = client;
    if (!pubsub) {
      let mod: typeof import("@google-cloud/pubsub");
      try {
        mod = await import("@google-cloud/pubsub");
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new DeliveryError(
          `Could not load "@google-cloud/pubsub" for the pubsub() gRPC transport (${reason}): install it (npm install @google-cloud/pubsub), ` +
            'or pass transport: "rest" to publish over fetch',
          { cause: err },
        );
      }
      created = pubsub = new mod.PubSub({ projectId: target.projectId, ...(target.apiEndpoint ? { apiEndpoint: target.apiEndpoint } : {}) });
    }
    return pubsub.topic(target.topicPath, { messageOrdering: true });
  }

  function opened(): Promise<PubSubTopic> {
    topic ??= open().catch((err: unknown) => {
      topic = undefined;
      throw err;
    });
    return topic;
  }

  // Loading the client when the worker starts reports a missing @google-cloud/pubsub at once, not at the first delivery
  // (which would be retried for the whole retry budget). Opening a topic handle sends nothing.
  async function start(): Promise<void> {
    await opened();
  }

  async function publish(message: PubSubMessage, signal: AbortSignal): Promise<string> {
    const handle = await abortable(opened(), signal);
    try {
      return await abortable(handle.publishMessage(message), signal);
    } catch (err) {
      // The client pauses a key after a failed ordered publish; the worker decides when to try the key again.
      if (message.orderingKey) handle.resumePublishing(message.orderingKey);
      throw classify(err, target);
    }
  }

  async function close(): Promise<void> {
    const handle = await topic?.catch(() => undefined);
    await handle?.flush().catch(() => undefined);
    await created?.close?.();
  }

  return { start, publish, close };
}

function classify(err: unknown, target: PubSubTarget): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  if (code === NOT_FOUND) return topicNotFound(target, err);
  if (typeof code === "number" && PERMANENT.has(code)) {
    return new PermanentError(`Pub/Sub refused the message for topic "${target.topicPath}": ${reason}`, { cause: err });
  }
  return new DeliveryError(`Pub/Sub publish to topic "${target.topicPath}" failed: ${reason}`, { cause: err });
}
