import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { storable } from "../../src/text.ts";
import { readHead } from "../body.ts";
import { parseRetryAfter } from "../retry-after.ts";
import { describeError } from "../cause.ts";
import { toBase64 } from "../../src/base64.ts";
import type { PubSubMessage } from "./message.ts";
import { abortable, aborted, type PubSubTarget, type PubSubTransport, topicNotFound } from "./transport.ts";

/**
 * Options of {@link restTransport}.
 *
 * @example
 * ```ts
 * const options: RestTransportOptions = { accessToken: async () => (await auth.getAccessToken()).token! };
 * ```
 */
export interface RestTransportOptions {
  /**
   * Returns an OAuth 2 access token sent as `Authorization: Bearer`, over https only: it is never called, and no
   * token is sent, when the endpoint is plain http (the emulator). Not answering within `tokenTimeoutMs` fails the
   * attempt (retryably), so a token source that hangs cannot hold deliveries or `close()` forever.
   */
  accessToken?: (() => Promise<string> | string) | undefined;
  /** The fetch to use (defaults to the global one), e.g. a wrapper that adds tracing. */
  fetch?: typeof fetch | undefined;
  /** How long `accessToken()` may take, in milliseconds. Default 10 s. */
  tokenTimeoutMs?: number | undefined;
}

// Pub/Sub takes up to 1000 messages and 10 MB per publish request; stay below the byte limit for the JSON framing.
const MAX_BATCH_MESSAGES = 1000;
const MAX_BATCH_BYTES = 9_000_000;
// Deliveries started within this window share one request.
const BATCH_WINDOW_MS = 5;
const REQUEST_TIMEOUT_MS = 60_000;
const TOKEN_TIMEOUT_MS = 10_000;
/** Of an error answer, this much is read (Google's JSON errors are far smaller) and 300 characters are kept. */
const ERROR_BODY_BYTES = 64 * 1024;
const ERROR_CHARS = 300;
/** A publish answer is a list of up to 1000 message ids; anything longer is not Pub/Sub. */
const ANSWER_BODY_BYTES = 1024 * 1024;

interface Pending {
  json: string;
  resolve(id: string): void;
  reject(err: unknown): void;
}

/**
 * Publishes with `POST {endpoint}/v1/projects/P/topics/T:publish` over fetch, for runtimes without gRPC. Deliveries
 * that arrive within a few milliseconds go out as one request (up to 1000 messages, ~9 MB) and each caller gets its
 * own outcome.
 *
 * @example
 * ```ts
 * const transport = restTransport(target, { accessToken: () => auth.getAccessToken() });
 * const id = await transport.publish(message, AbortSignal.timeout(30_000));
 * ```
 */
export function restTransport(target: PubSubTarget, options: RestTransportOptions = {}): PubSubTransport {
  const url = `${baseUrl(target)}/v1/${target.topicPath}:publish`;
  // A token must never cross the network in clear text; the emulator needs none.
  const sendsToken = options.accessToken !== undefined && url.startsWith("https:");
  const tokenTimeoutMs = options.tokenTimeoutMs ?? TOKEN_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const inFlight = new Set<Promise<void>>();
  let batch: Pending[] = [];
  let batchBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function flush(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    const sending = batch;
    batch = [];
    batchBytes = 0;
    const done = send(sending).finally(() => inFlight.delete(done));
    inFlight.add(done);
  }

  async function send(entries: Pending[]): Promise<void> {
    let res: Response;
    try {
      res = await post(entries);
    } catch (err) {
      const failure = err instanceof DeliveryError
        ? err
        : new DeliveryError(storable(`Could not reach Pub/Sub at ${url}: ${describeError(err)}`, 1000), { cause: err });
      for (const entry of entries) entry.reject(failure);
      return;
    }
    // One malformed message makes Pub/Sub refuse the whole request; send them one by one to find it.
    if (res.status === 400 && entries.length > 1) {
      await res.body?.cancel();
      await Promise.all(entries.map((entry) => send([entry])));
      return;
    }
    if (!res.ok) {
      const failure = await httpFailure(res, target);
      for (const entry of entries) entry.reject(failure);
      return;
    }
    const ids = await messageIds(res);
    if (ids.length !== entries.length) {
      const failure = new DeliveryError(`Pub/Sub answered ${ids.length} message ids for ${entries.length} messages`);
      for (const entry of entries) entry.reject(failure);
      return;
    }
    entries.forEach((entry, i) => entry.resolve(String(ids[i])));
  }

  async function post(entries: Pending[]): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (sendsToken) headers.authorization = `Bearer ${await accessToken()}`;
    return await doFetch(url, {
      method: "POST",
      headers,
      body: `{"messages":[${entries.map((entry) => entry.json).join(",")}]}`,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  }

  async function accessToken(): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new DeliveryError(`The pubsub() accessToken function did not answer within ${tokenTimeoutMs} ms`));
      }, tokenTimeoutMs);
    });
    let value: unknown;
    try {
      value = await Promise.race([Promise.resolve().then(() => options.accessToken!()), timeout]);
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      throw new DeliveryError(storable(`The pubsub() accessToken function failed: ${describeError(err)}`, 1000), { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (typeof value !== "string" || value === "") {
      const got = value === "" ? "an empty string" : value === null ? "null" : typeof value;
      throw new DeliveryError(
        `The pubsub() accessToken function returned ${got}, not an access token: return the token string ` +
          "(with google-auth-library: (await auth.getAccessToken()).token)",
      );
    }
    // Never quoted: it is a credential.
    if (/[^\x21-\x7e]/.test(value)) {
      throw new DeliveryError(
        "The pubsub() accessToken function returned a token with spaces, control or non-ASCII characters, " +
          "which an Authorization header cannot carry",
      );
    }
    return value;
  }

  function publish(message: PubSubMessage, signal: AbortSignal): Promise<string> {
    if (signal.aborted) return Promise.reject(aborted(signal));
    const json = JSON.stringify({
      data: toBase64(message.data),
      attributes: message.attributes,
      ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
    });
    const bytes = json.length;
    if (batch.length >= MAX_BATCH_MESSAGES || (batch.length > 0 && batchBytes + bytes > MAX_BATCH_BYTES)) flush();
    const queued = new Promise<string>((resolve, reject) => {
      const entry: Pending = { json, resolve, reject };
      batch.push(entry);
      batchBytes += bytes;
      // Still queued when the attempt is aborted: take it out so it is not sent at all.
      signal.addEventListener(
        "abort",
        () => {
          const at = batch.indexOf(entry);
          if (at < 0) return;
          batch.splice(at, 1);
          batchBytes -= bytes;
          reject(aborted(signal));
        },
        { once: true },
      );
    });
    timer ??= setTimeout(flush, BATCH_WINDOW_MS);
    return abortable(queued, signal);
  }

  async function close(): Promise<void> {
    flush();
    await Promise.all(inFlight);
  }

  return { publish, close };
}

function baseUrl(target: PubSubTarget): string {
  const endpoint = target.apiEndpoint;
  if (!endpoint) return "https://pubsub.googleapis.com";
  if (/^https?:\/\//i.test(endpoint)) return endpoint.replace(/\/+$/, "");
  return `${target.emulator ? "http" : "https"}://${endpoint.replace(/\/+$/, "")}`;
}

async function httpFailure(res: Response, target: PubSubTarget): Promise<DeliveryError> {
  const detail = await errorDetail(res);
  if (res.status === 404) return topicNotFound(target, new Error(`HTTP 404: ${detail}`));
  const message = `Pub/Sub answered HTTP ${res.status} to a publish to topic "${target.topicPath}": ${detail}`;
  // 401 is usually an expired token, which the next accessToken() call replaces.
  if (res.status >= 400 && res.status < 500 && ![401, 408, 429].includes(res.status)) return new PermanentError(message);
  return new DeliveryError(message, { retryAfterMs: parseRetryAfter(res.headers.get("retry-after")) });
}

// The start of an error answer, read with a bound (an error page can be any size) and made storable: it becomes
// the delivery's lastError.
async function errorDetail(res: Response): Promise<string> {
  const { bytes } = await readHead(res, { keepBytes: ERROR_BODY_BYTES, maxBytes: ERROR_BODY_BYTES });
  const text = new TextDecoder().decode(bytes);
  let detail: unknown;
  try {
    detail = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
  } catch {
    // not JSON (or cut short): fall back to the raw text
  }
  if (typeof detail !== "string" || detail.trim() === "") detail = text;
  return storable((detail as string).replace(/\s+/g, " ").trim(), ERROR_CHARS) || storable(res.statusText, ERROR_CHARS);
}

async function messageIds(res: Response): Promise<unknown[]> {
  const { bytes, cut } = await readHead(res, { keepBytes: ANSWER_BODY_BYTES, maxBytes: ANSWER_BODY_BYTES });
  if (cut) throw new DeliveryError(`Pub/Sub's answer to a publish was over ${ANSWER_BODY_BYTES} bytes`);
  try {
    const body = JSON.parse(new TextDecoder().decode(bytes)) as { messageIds?: unknown } | null;
    return Array.isArray(body?.messageIds) ? body.messageIds : [];
  } catch {
    return [];
  }
}

