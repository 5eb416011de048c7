import { createSigner, type Signer } from "../webhook/sign.ts";
import { RequestError } from "../hono/errors.ts";

/** Checks Standard Webhooks signatures with one or more secrets. */
export interface Verifier {
  /**
   * Resolves when `headers` carry a `v1` signature of `webhook-id.webhook-timestamp.body` made with one of the
   * secrets, and the timestamp is within the tolerance of `now`; otherwise throws a 401 RequestError.
   */
  verify(headers: Headers, body: Uint8Array, now?: number): Promise<void>;
}

/**
 * Builds a verifier. The signatures are computed by the very signer the webhook destination sends with, so sender
 * and receiver cannot disagree on what is signed; comparison is constant-time.
 *
 * @example
 * ```ts
 * const verifier = createVerifier(["whsec_new...", "whsec_old..."], 5 * 60_000);
 * await verifier.verify(request.headers, body);
 * ```
 */
export function createVerifier(secrets: string | readonly string[], toleranceMs: number): Verifier {
  const signer: Signer = createSigner(secrets);
  return {
    async verify(headers, body, now = Date.now()) {
      const id = headers.get("webhook-id");
      const timestamp = headers.get("webhook-timestamp");
      const signature = headers.get("webhook-signature");
      const missing = [!id && "webhook-id", !timestamp && "webhook-timestamp", !signature && "webhook-signature"].filter(Boolean);
      if (missing.length) {
        throw new RequestError(401, "missing_signature", `The request has no ${missing.join(", ")} header: sign it the Standard Webhooks way.`, missing[0] as string);
      }
      if (!/^\d{1,12}$/.test(timestamp!)) {
        throw new RequestError(401, "invalid_timestamp", "webhook-timestamp must be unix seconds.", "webhook-timestamp");
      }
      const skewMs = Math.abs(now - Number(timestamp) * 1000);
      if (skewMs > toleranceMs) {
        throw new RequestError(
          401,
          "stale_timestamp",
          `webhook-timestamp is ${Math.round(skewMs / 1000)} s away from this server's clock, over the ${toleranceMs / 1000} s ` +
            "tolerance: a replayed request, or a clock to fix (the receiver's toleranceMs option).",
          "webhook-timestamp",
        );
      }
      // The id and timestamp are signed exactly as they travel (the id still percent-encoded).
      const expected = await signer.signatures(id!, timestamp!, body);
      const given = signature!.split(" ").filter((s) => s.startsWith("v1,"));
      let match = false;
      for (const g of given) for (const e of expected) match = constantTimeEqual(g, e) || match;
      if (!match) {
        throw new RequestError(
          401,
          "invalid_signature",
          given.length === 0
            ? "webhook-signature holds no v1 signature."
            : "webhook-signature does not match the body with any of the receiver's secrets: check the secret, and that nothing rewrites the body on the way.",
          "webhook-signature",
        );
      }
    },
  };
}

/** Compares two strings in time that depends on their length only, never on where they first differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
