import { fromBase64, toBase64 } from "../../src/base64.ts";
import { DispatchError } from "../../src/errors.ts";
import { percentEncode } from "./binding.ts";

const PREFIX = "whsec_";
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

/**
 * Signs request bodies the Standard Webhooks way (https://www.standardwebhooks.com): `webhook-id`,
 * `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one signature per
 * secret so consumers can rotate keys.
 *
 * `webhook-id` is the event id percent-encoded exactly as `ce-id` is (CloudEvents HTTP binding 3.1.3.2: space, `"`,
 * `%` and everything outside printable ASCII become `%XX` of their UTF-8 bytes), and the signature covers that
 * header value, byte for byte. Ids of printable ASCII without those three characters (UUIDs, ULIDs...) are sent as
 * they are; any other id stays deliverable and verifiable (fetch would trim edge spaces from the header, and cannot
 * send characters above U+00FF at all), and `decodeURIComponent(webhook-id)` gives the event id back.
 */
export interface Signer {
  /** The three Standard Webhooks headers for one request. `timestamp` is in unix seconds. */
  headers(id: string, timestamp: number, body: Uint8Array | undefined): Promise<Record<string, string>>;
  /**
   * The `v1,<base64>` signatures, one per secret, of `wireId.timestamp.body` exactly as they travel: `wireId` is the
   * `webhook-id` header value (already percent-encoded) and `timestamp` the `webhook-timestamp` one. A receiver
   * verifies by computing these for the headers it got and comparing.
   */
  signatures(wireId: string, timestamp: number | string, body: Uint8Array | undefined): Promise<string[]>;
}

/**
 * Decodes a Standard Webhooks secret: base64, optionally prefixed with `whsec_`. That is what the reference
 * verifiers (`new Webhook(secret)` in `standardwebhooks`, Svix) do with the same string, so producer and consumer
 * agree on the key bytes. Throws a DispatchError (`invalid_option`) saying how to fix a bad secret.
 *
 * @example
 * ```ts
 * decodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); // Uint8Array(24)
 * ```
 */
export function decodeSecret(secret: unknown): Uint8Array<ArrayBuffer> {
  if (typeof secret !== "string" || secret.trim() === "") {
    throw new DispatchError(
      "invalid_option",
      "webhook: secret must be a non-empty string such as \"whsec_<base64>\"; when it comes from an environment " +
        "variable, check that the variable is set.",
    );
  }
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (encoded === "" || !BASE64.test(encoded)) {
    throw new DispatchError(
      "invalid_option",
      "webhook: secret must be standard base64, optionally prefixed with \"whsec_\" (Standard Webhooks format); " +
        "generate one with: openssl rand -base64 32.",
    );
  }
  return fromBase64(encoded);
}

/**
 * Builds a signer for one or more secrets (several while rotating). Secrets are validated now; the WebCrypto keys
 * are imported once, on first use, and reused for every request.
 *
 * @example
 * ```ts
 * const signer = createSigner(["whsec_new...", "whsec_old..."]);
 * const headers = await signer.headers(event.id, Math.floor(Date.now() / 1000), body);
 * ```
 */
export function createSigner(secrets: string | readonly string[]): Signer {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (!Array.isArray(list) || list.length === 0) {
    throw new DispatchError("invalid_option", "webhook: secret must be a string or a non-empty array of strings.");
  }
  const raw = list.map(decodeSecret);
  let keys: Promise<CryptoKey[]> | undefined;
  function importKeys(): Promise<CryptoKey[]> {
    keys ??= Promise.all(
      raw.map((bytes) => crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
    ).catch((err: unknown) => {
      keys = undefined; // let the next attempt try again rather than caching a failure
      throw err;
    });
    return keys;
  }
  async function signatures(wireId: string, timestamp: number | string, body: Uint8Array | undefined): Promise<string[]> {
    const prefix = encoder.encode(`${wireId}.${timestamp}.`);
    const content = new Uint8Array(prefix.length + (body?.length ?? 0));
    content.set(prefix);
    if (body) content.set(body, prefix.length);
    return await Promise.all((await importKeys()).map(async (key) => {
      const mac = await crypto.subtle.sign("HMAC", key, content);
      return "v1," + toBase64(new Uint8Array(mac));
    }));
  }
  return {
    signatures,
    async headers(id, timestamp, body) {
      const wireId = percentEncode(id);
      return {
        "webhook-id": wireId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": (await signatures(wireId, timestamp, body)).join(" "),
      };
    },
  };
}
