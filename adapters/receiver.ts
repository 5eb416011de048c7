/**
 * The receiving half: verify a webhook (Standard Webhooks signatures), read the CloudEvent (HTTP binding or Pub/Sub
 * push), and run your handler in one transaction with an inbox row keyed by the event's (source, id), so each event
 * has its effect once however often it is delivered.
 *
 * @module
 */
import type { CloudEvent } from "cloudevents";
import type { PostgresType, Sql } from "postgres";
import { DispatchError, PermanentError } from "../src/errors.ts";
import { consoleLogger, type Logger } from "../src/logger.ts";
import { assertKnownKeys, assertLogger, optionsObject, wholeNumber } from "../src/options.ts";
import { schema as schemaName, type Schema } from "../src/schema.ts";
import { applyMigrations } from "../src/store/migrate.ts";
import { readBody } from "./hono/body.ts";
import { RequestError } from "./hono/errors.ts";
import { accepted, refused } from "./receiver/answer.ts";
import { decodeHttp } from "./receiver/decode.ts";
import { handleEvents, type ReceiveHandler } from "./receiver/handle.ts";
import { INBOX_MIGRATIONS } from "./receiver/inbox.ts";
import { decodePush } from "./receiver/push.ts";
import { type ReceiverClient, type TransactionOf, transactions } from "./receiver/transaction.ts";
import { createVerifier } from "./receiver/verify.ts";
import { percentDecode } from "./webhook/binding.ts";

export { PermanentError };
export type { Received } from "./receiver/answer.ts";
export type { ReceiveContext, ReceiveHandler } from "./receiver/handle.ts";
export type { PgPool, PgTransaction, ReceiverClient, TransactionOf } from "./receiver/transaction.ts";

/** Five minutes, the Standard Webhooks recommendation. */
export const DEFAULT_TOLERANCE_MS = 5 * 60_000;
/** Twice the outbox's default `maxPayloadBytes`, leaving room for a structured event's attributes. */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1_048_576;

/**
 * A postgres.js client's custom types. Each receiver's first signature takes a postgres.js `Sql` by these, so that
 * `sql: postgres(url)` written inline still gives the handler a typed `tx` (inferred through the general signature, a
 * generic call inside the options object leaves the client's type unresolved and `tx` untyped).
 */
type PostgresTypes = Record<string, PostgresType>;

/** Options shared by both receivers. */
export interface ReceiverOptions<C extends ReceiverClient, T = unknown> {
  /** Opens one transaction per request: a postgres.js `sql`, Bun SQL, or a node-postgres `Pool`. */
  sql: C;
  /** Runs once per event, inside the transaction that records it; `ctx.tx` is that transaction. */
  handler: ReceiveHandler<TransactionOf<C>, T>;
  /** The schema that holds the inbox table. Default `"dispatch"` (it can share the outbox's). */
  schema?: string | undefined;
  /** The largest body read; a longer one is cut off while streaming and answered 413. Default 2 MiB. */
  maxBodyBytes?: number | undefined;
  /** Where handler failures are logged (the sender only gets a generic 500). Default: the console's error stream. */
  logger?: Logger | undefined;
}

/** Options of {@link receiveWebhook}. */
export interface ReceiveWebhookOptions<C extends ReceiverClient, T = unknown> extends ReceiverOptions<C, T> {
  /** The `whsec_...` secret the sender signs with, or several while rotating (any one may match). */
  secret: string | readonly string[];
  /** How far `webhook-timestamp` may be from this server's clock, either way. Default 5 minutes. */
  toleranceMs?: number | undefined;
}

/** Options of {@link receivePubSubPush}. */
export interface ReceivePubSubPushOptions<C extends ReceiverClient, T = unknown> extends ReceiverOptions<C, T> {
  /**
   * Authenticates the push before its body is read: resolve `true` to accept, `false` (or throw) to answer 401.
   * Pub/Sub signs push requests with an OIDC token in `Authorization`; checking it is up to you (a JWT library, or
   * your platform's IAM in front of this endpoint).
   */
  verify?: ((request: Request) => boolean | Promise<boolean>) | undefined;
}

/**
 * A request handler: `(request) => Promise<Response>` for Deno.serve, Bun.serve and any fetch-style server, and a
 * Hono handler too (given a Hono context it reads `c.req.raw`).
 */
export interface Receiver {
  (input: Request | { req: { raw: Request } }): Promise<Response>;
  /** Creates or upgrades the inbox table ({@link migrateInbox} with this receiver's client and schema). */
  migrate(): Promise<number[]>;
}

const COMMON_KEYS = ["sql", "handler", "schema", "maxBodyBytes", "logger"] as const;

/**
 * Receives pg-dispatch webhooks (and any Standard Webhooks sender's CloudEvents): verifies the signature, reads the
 * event in binary mode (percent-decoding `ce-*` values), structured mode or as a batch, and runs `handler(event,
 * { tx })` once per event in a transaction that also records the event in the inbox. A repeated delivery answers 200
 * without running the handler; a handler that throws rolls back and answers 500, so the sender retries; a handler
 * that throws a {@link PermanentError} answers 422 and the sender gives up. Bad requests answer 4xx with a JSON
 * `{ error: { code, message, field } }` and record nothing.
 *
 * @example
 * ```ts
 * import { receiveWebhook } from "pg-dispatch/receiver";
 *
 * const handle = receiveWebhook({
 *   secret: process.env.WEBHOOK_SECRET!,
 *   sql,
 *   handler: async (event, { tx }) => {
 *     await tx`insert into orders_seen ${tx({ id: event.id, type: event.type })}`;
 *   },
 * });
 * await handle.migrate();
 * Deno.serve(handle);
 * ```
 */
export function receiveWebhook<S extends PostgresTypes, T = unknown>(options: ReceiveWebhookOptions<Sql<S>, T>): Receiver;
export function receiveWebhook<C extends ReceiverClient, T = unknown>(options: ReceiveWebhookOptions<C, T>): Receiver;
export function receiveWebhook(options: ReceiveWebhookOptions<ReceiverClient>): Receiver {
  const o = optionsObject(options, "receiveWebhook");
  assertKnownKeys(o, [...COMMON_KEYS, "secret", "toleranceMs"], "receiveWebhook options");
  const common = commonOptions(o, "receiveWebhook");
  const verifier = createVerifier(o.secret as string | string[], wholeNumber(o.toleranceMs, "toleranceMs", 1000, DEFAULT_TOLERANCE_MS));
  return receiver(common, async (request) => {
    const body = await readBody(request, common.maxBodyBytes, "the receiver's");
    await verifier.verify(request.headers, body);
    const { mode, events } = decodeHttp(request.headers, body);
    // In binary mode the ce-* headers are outside the signature (it covers id, timestamp and body): the signed
    // webhook-id must at least name the same event, so a captured request cannot be replayed as another event.
    const signedId = percentDecode(request.headers.get("webhook-id")!);
    if (mode === "binary" && signedId !== events[0].id) {
      throw new RequestError(422, "invalid_event", "webhook-id and ce-id name different events; pg-dispatch sends the event id in both.", "webhook-id");
    }
    return events;
  });
}

/**
 * Receives a Pub/Sub push subscription's requests (the wrapped format: `{ message: { data, attributes, messageId },
 * subscription }`) carrying CloudEvents in the Pub/Sub binding, as pg-dispatch's Pub/Sub destination publishes
 * them, and handles them exactly as {@link receiveWebhook} does: inbox row and handler in one transaction, keyed by
 * the event's (source, id) (not by Pub/Sub's messageId, which differs when the outbox publishes an event again).
 * Pub/Sub treats every non-2xx answer as "retry later", 4xx included: give the subscription a dead-letter topic so
 * a refused event stops coming.
 *
 * @example
 * ```ts
 * import { receivePubSubPush } from "pg-dispatch/receiver";
 *
 * const handle = receivePubSubPush({
 *   sql,
 *   verify: (request) => request.headers.get("authorization") === `Bearer ${process.env.PUSH_TOKEN}`,
 *   handler: async (event, { tx }) => {
 *     await tx`insert into orders_seen ${tx({ id: event.id, type: event.type })}`;
 *   },
 * });
 * ```
 */
export function receivePubSubPush<S extends PostgresTypes, T = unknown>(options: ReceivePubSubPushOptions<Sql<S>, T>): Receiver;
export function receivePubSubPush<C extends ReceiverClient, T = unknown>(options: ReceivePubSubPushOptions<C, T>): Receiver;
export function receivePubSubPush(options: ReceivePubSubPushOptions<ReceiverClient>): Receiver {
  const o = optionsObject(options, "receivePubSubPush");
  assertKnownKeys(o, [...COMMON_KEYS, "verify"], "receivePubSubPush options");
  const common = commonOptions(o, "receivePubSubPush");
  const verify = o.verify;
  if (verify !== undefined && typeof verify !== "function") {
    throw new DispatchError("invalid_option", "receivePubSubPush: verify must be a function (request) => boolean.", { field: "verify" });
  }
  return receiver(common, async (request) => {
    if (verify) {
      let ok = false;
      try {
        ok = (await verify(request)) === true;
      } catch {
        ok = false;
      }
      if (!ok) throw new RequestError(401, "unauthenticated", "The push request was not authenticated (the receiver's verify hook refused it).");
    }
    return [decodePush(await readBody(request, common.maxBodyBytes, "the receiver's"))];
  });
}

/**
 * Creates or upgrades the inbox table in `schema` (default `"dispatch"`): versioned, in one transaction under an
 * advisory lock, so any number of processes may call it at once. Returns the versions it applied.
 *
 * @example
 * ```ts
 * import { migrateInbox } from "pg-dispatch/receiver";
 *
 * await migrateInbox(sql, { schema: "billing" });
 * ```
 */
export async function migrateInbox(sql: ReceiverClient, options: { schema?: string | undefined } = {}): Promise<number[]> {
  const schema = schemaName(optionsObject(options, "migrateInbox").schema);
  return await transactions(sql)((query) => applyMigrations(query, schema, INBOX_MIGRATIONS));
}

interface Common {
  sql: ReceiverClient;
  schema: Schema;
  handler: ReceiveHandler<unknown>;
  maxBodyBytes: number;
  logger: Logger;
}

function commonOptions(o: { [K in keyof ReceiverOptions<ReceiverClient>]?: unknown }, where: string): Common {
  if (typeof o.handler !== "function") {
    throw new DispatchError("invalid_option", `${where}: handler must be a function (event, { tx }) => ...`, { field: "handler" });
  }
  assertLogger(o.logger);
  transactions(o.sql as ReceiverClient); // refuses an unusable client now, not on the first request
  return {
    sql: o.sql as ReceiverClient,
    schema: schemaName(o.schema as string | undefined),
    handler: o.handler as ReceiveHandler<unknown>,
    maxBodyBytes: wholeNumber(o.maxBodyBytes, "maxBodyBytes", 1, DEFAULT_MAX_BODY_BYTES),
    logger: (o.logger as Logger | undefined) ?? consoleLogger,
  };
}

function receiver(common: Common, read: (request: Request) => Promise<CloudEvent<unknown>[]>): Receiver {
  const begin = transactions(common.sql);
  async function handle(input: Request | { req: { raw: Request } }): Promise<Response> {
    const request = input instanceof Request ? input : input.req.raw;
    let what = "the request";
    try {
      const events = await read(request);
      what = events.length === 1 ? `event ${JSON.stringify(events[0].id)} from ${JSON.stringify(events[0].source)}` : `a batch of ${events.length} events`;
      return accepted(await handleEvents(begin, common.schema, events, common.handler, request));
    } catch (err) {
      return refused(err, common.logger, what);
    }
  }
  return Object.assign(handle, {
    migrate: () => migrateInbox(common.sql, { schema: common.schema.name }),
  });
}
