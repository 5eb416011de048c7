/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/**
 * Where pg-dispatch writes what it does: any object with these four methods, each called as `(message, fields)`.
 * `console` fits. pino (and bunyan) take the other order, `(fields, message)`: passing a pino logger as it is would log
 * the fields as the message, so wrap it as in the second example.
 *
 * @example
 * ```ts
 * // any object with debug, info, warn and error methods; here the JSON-lines logger below
 * const outbox = new Outbox({ sql, logger: jsonLogger((line) => process.stderr.write(line + "\n"), "warn") });
 * ```
 *
 * @example
 * ```ts
 * // pino: swap the arguments
 * const log = pino();
 * const logger: Logger = {
 *   debug: (message, fields) => log.debug(fields ?? {}, message),
 *   info: (message, fields) => log.info(fields ?? {}, message),
 *   warn: (message, fields) => log.warn(fields ?? {}, message),
 *   error: (message, fields) => log.error(fields ?? {}, message),
 * };
 * ```
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * The default logger: warnings and errors go to the console's error stream, the rest is dropped.
 *
 * @example
 * ```ts
 * consoleLogger.warn("listener reconnected", { attempt: 2 });
 * ```
 */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn(message, fields) {
    console.warn(`[pg-dispatch] ${message}`, fields ?? "");
  },
  error(message, fields) {
    console.error(`[pg-dispatch] ${message}`, fields ?? "");
  },
};

/** The levels of {@link jsonLogger}, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** The level {@link jsonLogger} logs from when not told. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/**
 * A logger that prints one JSON object per line, for process managers and log shippers.
 *
 * @example
 * ```ts
 * const logger = jsonLogger((line) => process.stdout.write(line + "\n"), "info");
 * ```
 */
export function jsonLogger(write: (line: string) => void, level: LogLevel = DEFAULT_LOG_LEVEL): Logger {
  const order: readonly string[] = LOG_LEVELS;
  const min = order.indexOf(level);
  function line(lvl: string) {
    return (message: string, fields?: LogFields) => {
      if (order.indexOf(lvl) < min) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg: message, ...fields }, errorReplacer));
    };
  }
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}
