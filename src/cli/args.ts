import { parseArgs } from "node:util";
import { COMMANDS, type CommandName } from "./usage.ts";
import { WORKER_FLAGS } from "./worker-flags.ts";

/** A command line that cannot be run as given: the CLI prints the message and the usage, and exits with 2. */
export class UsageError extends Error {
  /** The command whose usage to print, or null for the overview. */
  readonly command: CommandName | null;

  constructor(message: string, command: CommandName | null) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A parsed command line. Flags keep their long names as written (`batch-size`), values as strings. */
export interface Invocation {
  command: CommandName;
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

type FlagSpec = { type: "string" | "boolean" };

const CONNECTION: Record<string, FlagSpec> = {
  config: { type: "string" },
  "database-url": { type: "string" },
  schema: { type: "string" },
};
const OUTPUT: Record<string, FlagSpec> = { json: { type: "boolean" } };
/** The filters of the bulk commands (retry, replay), besides --source, --destination and --status. */
const FILTERS: Record<string, FlagSpec> = {
  type: { type: "string" },
  "type-prefix": { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  "dry-run": { type: "boolean" },
};

/** The flags each command accepts (besides --help) and how many positional arguments it takes. */
const SPECS: Record<CommandName, { flags: Record<string, FlagSpec>; positionals: string[] }> = {
  worker: {
    flags: {
      config: { type: "string" },
      ...Object.fromEntries(WORKER_FLAGS.map((f): [string, FlagSpec] => [f.flag, { type: "string" }])),
      "log-level": { type: "string" },
    },
    positionals: [],
  },
  migrate: { flags: { ...CONNECTION, ...OUTPUT }, positionals: [] },
  status: { flags: { ...CONNECTION, ...OUTPUT, source: { type: "string" } }, positionals: ["id"] },
  events: {
    flags: {
      ...CONNECTION,
      ...OUTPUT,
      status: { type: "string" },
      type: { type: "string" },
      source: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
    },
    positionals: [],
  },
  // `retry <id>` for one event, `retry --status failed [filters]` for many: the id is optional ("id?").
  retry: { flags: { ...CONNECTION, ...OUTPUT, source: { type: "string" }, ...FILTERS, destination: { type: "string" }, status: { type: "string" } }, positionals: ["id?"] },
  replay: { flags: { ...CONNECTION, ...OUTPUT, source: { type: "string" }, ...FILTERS, destination: { type: "string" }, status: { type: "string" } }, positionals: [] },
  pause: { flags: { ...CONNECTION, ...OUTPUT }, positionals: ["destination"] },
  resume: { flags: { ...CONNECTION, ...OUTPUT }, positionals: ["destination"] },
  destinations: { flags: { ...CONNECTION, ...OUTPUT }, positionals: [] },
  stats: { flags: { ...CONNECTION, ...OUTPUT }, positionals: [] },
  doctor: { flags: { ...CONNECTION, ...OUTPUT, "max-transaction-age": { type: "string" } }, positionals: [] },
};

/**
 * Parses `pg-dispatch <command> [flags]`. Returns null for a bare `--help` (or no arguments at all); throws
 * {@link UsageError} for an unknown command, an unknown flag, a missing value or a wrong number of arguments.
 */
export function parseCommandLine(argv: string[]): Invocation | null {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") return null;
  if (!COMMANDS.includes(first as CommandName)) {
    throw new UsageError(first.startsWith("-") ? `Expected a command before ${first}.` : `Unknown command "${first}".`, null);
  }
  const command = first as CommandName;
  const spec = SPECS[command];
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...spec.flags, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(parseErrorMessage(err), command);
  }
  const help = parsed.values.help === true;
  const positionals = parsed.positionals;
  const required = spec.positionals.filter((p) => !p.endsWith("?")).length;
  if (!help && (positionals.length < required || positionals.length > spec.positionals.length)) {
    const want = spec.positionals.map((p) => (p.endsWith("?") ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(" ");
    throw new UsageError(
      positionals.length < required
        ? `${command} needs ${want}.`
        : `${command} takes ${want || "no arguments"}, got ${positionals.map((p) => JSON.stringify(p)).join(" ")}.`,
      command,
    );
  }
  return { command, flags: parsed.values, positionals, help };
}

/** node:util's messages differ between Node, Deno and Bun; this keeps the useful part on one line. */
function parseErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // `--limit -5`: node:util reads "-5" as the next option and says only "argument is ambiguous" on the first line.
  const ambiguous = /^Option '(-[^' ]+)' argument is ambiguous/.exec(message);
  if (ambiguous) return `${ambiguous[1]} needs a value; for one that starts with a dash write ${ambiguous[1]}=<value>.`;
  return message.split("\n")[0].replace(/\.? To specify a positional argument.*$/, "").replace(/\.?$/, ".");
}

/** A flag as a string, or undefined when absent. */
export function text(inv: Invocation, flag: string): string | undefined {
  const value = inv.flags[flag];
  return typeof value === "string" ? value : undefined;
}

/** A flag that must be a whole number within bounds, or undefined when absent. */
export function integer(inv: Invocation, flag: string, min: number, max: number): number | undefined {
  const value = text(inv, flag);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}.`, inv.command);
  }
  return n;
}

/** A flag that must be one of a few words, or undefined when absent. */
export function oneOf<T extends string>(inv: Invocation, flag: string, words: readonly T[]): T | undefined {
  const value = text(inv, flag);
  if (value === undefined) return undefined;
  if (!words.includes(value as T)) {
    throw new UsageError(`--${flag} must be one of ${words.join(", ")}, got ${JSON.stringify(value)}.`, inv.command);
  }
  return value as T;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A flag that must be a duration such as `500ms`, `30s`, `5m` or `1h`, in milliseconds within bounds; undefined when absent. */
export function milliseconds(inv: Invocation, flag: string, min: number, max: number): number | undefined {
  const value = text(inv, flag);
  if (value === undefined) return undefined;
  const match = /^([0-9]{1,9})(ms|s|m|h)$/.exec(value);
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
  if (!(ms >= min && ms <= max)) {
    throw new UsageError(`--${flag} must be a duration such as 30s, 5m or 1h, from ${min}ms to ${max / 3_600_000}h, got ${JSON.stringify(value)}.`, inv.command);
  }
  return ms;
}
