import { untilAborted } from "../../src/abort.ts";
import { DeliveryError, PermanentError } from "../../src/errors.ts";
import type { PubSubMessage } from "./message.ts";

/**
 * Where a pubsub destination publishes, resolved once from its options and the environment.
 *
 * @example
 * ```ts
 * const target: PubSubTarget = { projectId: "p", topic: "events", topicPath: "projects/p/topics/events", emulator: false };
 * ```
 */
export interface PubSubTarget {
  projectId: string;
  /** The topic's short name. */
  topic: string;
  /** `projects/<project>/topics/<topic>`. */
  topicPath: string;
  /** An explicit endpoint (`host:port` or a URL), from the `apiEndpoint` option or `PUBSUB_EMULATOR_HOST`. */
  apiEndpoint?: string | undefined;
  /** True when the endpoint is the emulator: plain HTTP or gRPC, no credentials. */
  emulator: boolean;
}

/**
 * What a transport does: publish one message (batched as it likes) and release its resources.
 *
 * @example
 * ```ts
 * const transport: PubSubTransport = restTransport(target);
 * const id = await transport.publish(message, ctx.signal);
 * ```
 */
export interface PubSubTransport {
  /** Resolves with the message id once Pub/Sub accepted the message; throws a {@link DeliveryError} otherwise. */
  publish(message: PubSubMessage, signal: AbortSignal): Promise<string>;
  /** Checks, when the worker starts, that the transport can publish at all (its client library loads). Optional. */
  start?(): Promise<void>;
  /** Sends whatever is queued, then closes what the transport created. */
  close(): Promise<void>;
}

/**
 * The message both transports give when the topic does not exist, which no retry can fix.
 *
 * @example
 * ```ts
 * throw topicNotFound(target, err);
 * ```
 */
export function topicNotFound(target: PubSubTarget, cause?: unknown): PermanentError {
  return new PermanentError(
    `Pub/Sub topic "${target.topicPath}" does not exist: create it ` +
      `(gcloud pubsub topics create ${target.topic} --project ${target.projectId}) or fix the pubsub() topic option`,
    { cause },
  );
}

/**
 * Rejects with a retryable {@link DeliveryError} as soon as `signal` aborts, without cancelling `promise`: a message
 * already handed to Pub/Sub may still arrive, which at-least-once delivery allows.
 *
 * @example
 * ```ts
 * const id = await abortable(topic.publishMessage(message), ctx.signal);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return untilAborted(promise, signal, () => aborted(signal));
}

/**
 * The retryable error for an attempt that was aborted (timeout or worker stop) before Pub/Sub answered.
 *
 * @example
 * ```ts
 * if (signal.aborted) throw aborted(signal);
 * ```
 */
export function aborted(signal: AbortSignal): DeliveryError {
  return new DeliveryError("Pub/Sub publish was aborted before Pub/Sub answered", { cause: signal.reason });
}
