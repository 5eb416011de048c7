// Web-standard base64 (btoa/atob), so the core and the adapters run on edge runtimes without Buffer.

/** Bytes handed to String.fromCharCode at once: spreading a whole body overflows the call stack past ~100 kB. */
const CHUNK = 0x8000;

/**
 * Standard base64 (RFC 4648 §4, with padding) of any number of bytes.
 *
 * @example
 * ```ts
 * toBase64(new TextEncoder().encode("hi")); // "aGk="
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/**
 * The bytes of standard base64 text; throws (a DOMException from atob) when it is not base64.
 *
 * @example
 * ```ts
 * fromBase64("aGk="); // Uint8Array [104, 105]
 * ```
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
