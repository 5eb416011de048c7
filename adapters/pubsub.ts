/**
 * Google Cloud Pub/Sub as a pg-dispatch destination: `pg-dispatch/pubsub`.
 *
 * @module
 */
import { DispatchError } from "../src/errors.ts";
import type { DeliveredEvent, DeliveryContext, Destination } from "../src/destination.ts";
import { type PubSubClient, grpcTransport } from "./pubsub/grpc.ts";
import { toPubSubMessage } from "./pubsub/message.ts";
import { restTransport } from "./pubsub/rest.ts";
import type { PubSubTarget, PubSubTransport } from "./pubsub/transport.ts";

export type { PubSubClient, PubSubTopic } from "./pubsub/grpc.ts";
export { PUBSUB_LIMITS, type PubSubMessage, toPubSubMessage } from "./pubsub/message.ts";

/**
 * Options of {@link pubsub}.
 *
 * @example
 * ```ts
 * const options: PubSubOptions = { topic: "events", projectId: "my-project", transport: "rest", accessToken: getToken };
 * ```
 */
export interface PubSubOptions {
  /** The topic's name, or its full path `projects/<project>/topics/<topic>`. */
  topic: string;
  /** The project; defaults to `GOOGLE_CLOUD_PROJECT`, then `PUBSUB_PROJECT_ID`, then the `client`'s project. */
  projectId?: string | undefined;
  /** `"grpc"` (default): the official `@google-cloud/pubsub` client. `"rest"`: fetch only, for edge runtimes. */
  transport?: "grpc" | "rest" | undefined;
  /**
   * Where to send: `host:port` or a URL. Defaults to `PUBSUB_EMULATOR_HOST` when set, else Google's endpoint. A plain
   * `http://` URL, or a host without a scheme that is not `*.googleapis.com`, is treated as the emulator: plain HTTP,
   * and no access token is sent.
   */
  apiEndpoint?: string | undefined;
  /** The destination's name, which keys its delivery state; defaults to `pubsub:<topic>`. */
  name?: string | undefined;
  /**
   * REST transport: returns an OAuth 2 access token (a string), sent as a Bearer token over https only. Required for
   * pubsub.googleapis.com; never called for the emulator. A call that takes over 10 s fails the attempt (retried).
   */
  accessToken?: (() => Promise<string> | string) | undefined;
  /** gRPC transport: your own `PubSub` client instance (the destination will not close it). */
  client?: PubSubClient | undefined;
  /** REST transport: the fetch to use instead of the global one. */
  fetch?: typeof fetch | undefined;
}

/**
 * A destination that publishes each event to a Pub/Sub topic in the CloudEvents Pub/Sub binding's binary mode:
 * attributes `ce-id`, `ce-source`, `ce-specversion`, `ce-type`, `ce-subject`, `ce-time`, `ce-dataschema` and
 * `ce-<extension>`, the content type in `contentType` and `Content-Type`, the data as the message bytes and the
 * event's ordering key as the message's `orderingKey`. A missing topic and an event over Pub/Sub's limits fail the
 * delivery for good; other errors are retried.
 *
 * @example
 * ```ts
 * import { pubsub } from "pg-dispatch/pubsub";
 *
 * outbox.register("*", pubsub({ topic: "events", projectId: "my-project" }));
 * // on an edge runtime:
 * outbox.register("order.*", pubsub({ topic: "orders", transport: "rest", accessToken: () => getToken() }));
 * ```
 */
export function pubsub(options: PubSubOptions): Destination {
  const transportName = options.transport ?? "grpc";
  if (transportName !== "grpc" && transportName !== "rest") {
    throw new DispatchError("invalid_option", `pubsub() transport must be "grpc" or "rest", got ${JSON.stringify(transportName)}`);
  }
  const target = resolveTarget(options);
  if (options.accessToken !== undefined && typeof options.accessToken !== "function") {
    throw new DispatchError(
      "invalid_option",
      "pubsub() accessToken must be a function that returns a fresh access token, e.g. " +
        "accessToken: async () => (await auth.getAccessToken()).token",
    );
  }
  if (transportName === "rest" && !target.emulator && !options.accessToken) {
    throw new DispatchError(
      "invalid_option",
      "pubsub() with transport: \"rest\" needs an accessToken function to reach Google; pass { accessToken }, " +
        "or set PUBSUB_EMULATOR_HOST to use the emulator",
    );
  }
  const transport: PubSubTransport = transportName === "rest"
    ? restTransport(target, { accessToken: options.accessToken, fetch: options.fetch })
    : grpcTransport(target, options.client);
  let closed = false;

  async function deliver(event: DeliveredEvent, ctx: DeliveryContext): Promise<void> {
    if (closed) throw new DispatchError("closed", `The pubsub destination for "${target.topicPath}" is closed`);
    // Checked before anything is sent: an event that breaks a limit never reaches Pub/Sub.
    const message = toPubSubMessage(event, ctx.orderingKey, ctx);
    await transport.publish(message, ctx.signal);
  }

  async function start(): Promise<void> {
    await transport.start?.();
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await transport.close();
  }

  return { name: options.name ?? `pubsub:${options.topic}`, deliver, start, close };
}

function resolveTarget(options: PubSubOptions): PubSubTarget {
  if (typeof options.topic !== "string" || options.topic === "") {
    throw new DispatchError("invalid_option", "pubsub() needs a topic: pass { topic: \"my-topic\" }");
  }
  const full = /^projects\/([^/]+)\/topics\/([^/]+)$/.exec(options.topic);
  const topic = full ? full[2] : options.topic;
  if (topic.includes("/")) {
    throw new DispatchError(
      "invalid_option",
      `pubsub() topic "${options.topic}" is neither a topic name nor "projects/<project>/topics/<topic>"`,
    );
  }
  const clientProject = options.client?.projectId;
  const projectId = options.projectId ?? full?.[1] ?? env("GOOGLE_CLOUD_PROJECT") ?? env("PUBSUB_PROJECT_ID") ??
    (clientProject && !clientProject.includes("{") ? clientProject : undefined);
  if (!projectId) {
    throw new DispatchError(
      "invalid_option",
      `pubsub() needs a Google Cloud project for topic "${topic}": pass { projectId }, ` +
        "or set GOOGLE_CLOUD_PROJECT (or PUBSUB_PROJECT_ID)",
    );
  }
  const emulatorHost = env("PUBSUB_EMULATOR_HOST");
  const apiEndpoint = options.apiEndpoint ?? emulatorHost;
  const emulator = options.apiEndpoint === undefined ? emulatorHost !== undefined : isEmulator(options.apiEndpoint);
  return { projectId, topic, topicPath: `projects/${projectId}/topics/${topic}`, apiEndpoint, emulator };
}

// Plain http, or a bare host:port that is not Google's, means the emulator (the official client decides the same way).
function isEmulator(endpoint: string): boolean {
  if (/^http:\/\//i.test(endpoint)) return true;
  if (/^https:\/\//i.test(endpoint)) return false;
  return !/\.googleapis\.com(:\d+)?\/?$/i.test(endpoint);
}

// Environment access that works on Node, Bun and Deno without importing node:process.
function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  if (proc?.env) return proc.env[name] || undefined;
  const deno = (globalThis as { Deno?: { env: { get(key: string): string | undefined } } }).Deno;
  try {
    return deno?.env.get(name) || undefined;
  } catch {
    // Deno without --allow-env: behave as if unset
    return undefined;
  }
}
