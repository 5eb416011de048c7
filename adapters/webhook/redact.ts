import { sha256Hex } from "./sha256.ts";

/** What a secret found in outside text is replaced with. */
export const REDACTED = "[redacted]";
/** Values shorter than this are not treated as secrets: no credential is that short, and "ok" or "1" would mangle text. */
const MIN_SECRET_CHARS = 8;

/**
 * How a webhook URL is shown in its default name, error messages and logs: the origin, and the path replaced by the
 * first 8 hex digits of SHA-256 of `<origin><path>`. Slack, Discord and Teams put the credential in the path, so the
 * path is never shown; the fingerprint is stable, so it can key delivery state, and it tells endpoints apart. The
 * query string is left out too. A URL whose path is `/` is shown as it is.
 *
 * Find which URL a fingerprint belongs to with `printf %s 'https://host/path' | sha256sum | cut -c1-8`.
 *
 * @example
 * ```ts
 * shownUrl(new URL("https://hooks.slack.com/services/T0/B0/XXXX")); // "https://hooks.slack.com/…#<8 hex digits>"
 * shownUrl(new URL("https://example.com/?key=1"));                  // "https://example.com/"
 * ```
 */
export function shownUrl(url: URL): string {
  if (url.pathname === "/" || url.pathname === "") return `${url.origin}/`;
  return `${url.origin}/…#${sha256Hex(url.origin + url.pathname).slice(0, 8)}`;
}

/** Path segments shorter than this are kept: they are words like "services" or "hooks", and tokens are longer. */
const MIN_SECRET_SEGMENT_CHARS = 16;

/**
 * The parts of a webhook URL that may be a credential, for {@link redact}: the path (unless it is `/`), each long
 * path segment (raw and decoded; a receiver may echo only the token), and each query value.
 *
 * @example
 * ```ts
 * urlSecrets(new URL("https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX"));
 * // ["/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"]
 * ```
 */
export function urlSecrets(url: URL): string[] {
  const out = url.pathname === "/" ? [] : [url.pathname];
  for (const segment of url.pathname.split("/")) {
    if (segment.length >= MIN_SECRET_SEGMENT_CHARS) out.push(segment, safeDecode(segment));
  }
  for (const value of url.searchParams.values()) out.push(value, encodeURIComponent(value));
  return out;
}

/**
 * Replaces every occurrence of each secret in `text` with "[redacted]", longest first. Values under 8 characters are
 * ignored, and an empty list returns `text` as it is.
 *
 * @example
 * ```ts
 * redact("echo: Bearer s3cr3t-t0k3n", ["s3cr3t-t0k3n"]); // "echo: Bearer [redacted]"
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  const list = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
