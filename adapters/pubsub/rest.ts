import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { type PubSubMessage, toBase64 } from "./message.ts";
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
  /** Returns an OAuth 2 access token sent as `Authorization: Bearer`; not needed against the emulator. */
  accessToken?: () => Promise<string> | string;
  /** The fetch to use (defaults to the global one), e.g. a wrapper that adds tracing. */
  fetch?: typeof fetch;
}

// Pub/Sub takes up to 1000 messages and 10 MB per publish request; stay below the byte limit for the JSON framing.
const MAX_BATCH_MESSAGES = 1000;
const MAX_BATCH_BYTES = 9_000_000;
// Deliveries started within this window share one request.
const BATCH_WINDOW_MS = 5;
const REQUEST_TIMEOUT_MS = 60_000;

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
        : new DeliveryError(`Could not reach Pub/Sub at ${url}: ${err instanceof Error ? err.message : err}`, { cause: err });
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
    const body = (await res.json().catch(() => ({}))) as { messageIds?: unknown };
    const ids = Array.isArray(body.messageIds) ? body.messageIds : [];
    if (ids.length !== entries.length) {
      const failure = new DeliveryError(`Pub/Sub answered ${ids.length} message ids for ${entries.length} messages`);
      for (const entry of entries) entry.reject(failure);
      return;
    }
    entries.forEach((entry, i) => entry.resolve(String(ids[i])));
  }

  async function post(entries: Pending[]): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (options.accessToken) {
      let token: string;
      try {
        token = await options.accessToken();
      } catch (err) {
        throw new DeliveryError(`The pubsub() accessToken function failed: ${err instanceof Error ? err.message : err}`, {
          cause: err,
        });
      }
      headers.authorization = `Bearer ${token}`;
    }
    return await doFetch(url, {
      method: "POST",
      headers,
      body: `{"messages":[${entries.map((entry) => entry.json).join(",")}]}`,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
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
  return new DeliveryError(message, { retryAfterMs: retryAfter(res.headers.get("retry-after")) });
}

async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 300) || res.statusText;
}

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
