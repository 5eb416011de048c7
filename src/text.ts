/**
 * Text that came from outside (a remote endpoint's body, a handler's error, a producer's string) made safe to store
 * and show. PostgreSQL refuses NUL in `text` and `jsonb`, and refuses a lone UTF-16 surrogate in JSON, so one such
 * character would fail the whole statement it travels in; a cut in the middle of a surrogate pair makes one.
 */

/** What replaces a character that cannot be stored (NUL, a lone surrogate): U+FFFD, the replacement character. */
export const REPLACEMENT = "\uFFFD";

/**
 * Returns `text` well-formed (lone surrogates become U+FFFD), without NUL (also U+FFFD), and at most `max` UTF-16
 * code units long, cut between code points and ending in "…" when cut.
 *
 * @example
 * ```ts
 * storable("bad\u0000byte"); // "bad\uFFFDbyte"
 * storable("😀😀😀", 3);      // "😀…"
 * ```
 */
export function storable(text: string, max: number = Infinity): string {
  let out = text;
  if (out.length > max) {
    let end = Math.max(0, max - 1);
    // Do not split a surrogate pair: back off one unit when the cut would leave a high surrogate at the end.
    if (end > 0 && isHighSurrogate(out.charCodeAt(end - 1))) end--;
    out = out.slice(0, end) + "…";
  }
  return out.replace(UNSTORABLE, REPLACEMENT);
}

/**
 * True when `text` can be stored as it is: no NUL and no lone surrogate. Input at the boundary is refused when this
 * is false, rather than silently changed (an id that changed would no longer de-duplicate).
 *
 * @example
 * ```ts
 * isStorable("order-1");    // true
 * isStorable("a\u0000b");   // false
 * isStorable("\uD800");     // false
 * ```
 */
export function isStorable(text: string): boolean {
  UNSTORABLE.lastIndex = 0;
  return !UNSTORABLE.test(text);
}

/**
 * A C0/C1 control character, for callers that print untrusted text to a terminal or a log line.
 * Tab is not included.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
export const CONTROL_CHARACTERS: RegExp = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F]/g;

/** NUL, a high surrogate without its low half, or a low surrogate without its high half. */
// deno-lint-ignore no-control-regex -- NUL is what PostgreSQL refuses
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
