/**
 * Hides credentials in text the CLI echoes: the password of any URL (`postgres://app:***@db/app`, also when a path
 * resolution made its `//` one slash) and `password=...` parameters. A database URL typed in the wrong place (as an
 * event id, a stray argument, a config module) comes back in an error message, and terminals, CI logs and shell
 * histories keep what is printed.
 *
 * @example
 * ```ts
 * redact("No event with id \"postgres://app:s3cret@db/app\"."); // 'No event with id "postgres://app:***@db/app".'
 * ```
 */
export function redact(text: string): string {
  return text
    // The password runs to the last "@" before a space or quote: an unencoded "@" or "/" in it must not leak its tail.
    // One slash is enough: a URL taken for a file path comes back resolved, its "//" made "/".
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/?[^\s:/?#@"'`]*):[^\s"'`]*@/gi, "$1:***@")
    .replace(/\b(password=)[^\s&"'`]*/gi, "$1***");
}
