import { DEFAULT_DOCTOR } from "../doctor/finding.ts";
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from "../logger.ts";
import { EVENT_STATUSES, FINISHED_STATUSES } from "../record.ts";
import { DEFAULT_SCHEMA } from "../schema.ts";
import { PAGE_LIMIT } from "../store/events.ts";
import { type Invocation, UsageError } from "./invocation.ts";

/** What a flag's value must be; the parser, the check and the help all read it from here. */
export type FlagKind =
  | { kind: "switch" }
  | { kind: "text" }
  | { kind: "integer"; min: number; max: number }
  | { kind: "duration"; min: number; max: number }
  | { kind: "word"; words: readonly string[] };

/**
 * One flag of one command, declared once: its name, what its value must be, and its line in the help. A command's
 * accepted flags, their checks and its help text are all built from these (src/cli/usage.ts lists them per command).
 */
export type Flag<K extends FlagKind = FlagKind> = K & {
  /** The long name, as typed after `--`. */
  name: string;
  /** The value's placeholder in the help, e.g. `<n>`; none for a switch. */
  value?: string;
  /** What it means, for the help; lines after the first are continued under it. Defaults come from constants. */
  help: string;
};

/** A help section: a line of text (a heading, or a sentence), then flags, one line each, their help at `column`. */
export interface FlagSection {
  text?: string;
  flags: readonly Flag[];
  /** Where the help text starts; 25 unless the section's flags are longer. */
  column?: number;
}

/** The value of a flag: a switch is true or false, a number flag a number, others the string typed. */
export function read(inv: Invocation, flag: Flag<{ kind: "switch" }>): boolean;
export function read(inv: Invocation, flag: Flag<{ kind: "integer" | "duration"; min: number; max: number }>): number | undefined;
export function read<W extends string>(inv: Invocation, flag: Flag<{ kind: "word"; words: readonly W[] }>): W | undefined;
export function read(inv: Invocation, flag: Flag<{ kind: "text" }>): string | undefined;
export function read(inv: Invocation, flag: Flag): string | number | boolean | undefined {
  const raw = inv.flags[flag.name];
  if (flag.kind === "switch") return raw === true;
  if (typeof raw !== "string") return undefined;
  switch (flag.kind) {
    case "text":
      return raw;
    case "integer": {
      const n = Number(raw);
      if (!/^[0-9]+$/.test(raw) || n < flag.min || n > flag.max) {
        throw new UsageError(`--${flag.name} must be a whole number from ${flag.min} to ${flag.max}, got ${JSON.stringify(raw)}.`, inv.command);
      }
      return n;
    }
    case "duration": {
      const match = /^([0-9]{1,9})(ms|s|m|h)$/.exec(raw);
      const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
      if (!(ms >= flag.min && ms <= flag.max)) {
        throw new UsageError(
          `--${flag.name} must be a duration such as 30s, 5m or 1h, from ${flag.min}ms to ${flag.max / 3_600_000}h, got ${JSON.stringify(raw)}.`,
          inv.command,
        );
      }
      return ms;
    }
    case "word":
      if (!flag.words.includes(raw)) throw new UsageError(`--${flag.name} must be one of ${flag.words.join(", ")}, got ${JSON.stringify(raw)}.`, inv.command);
      return raw;
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in the help's words: 300000 is `5m`. */
export function duration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A list of words as the help says it: `a, b or c`. */
export function words(list: readonly string[]): string {
  return list.length < 2 ? list.join("") : `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

/** A section's help lines. */
export function sectionHelp(section: FlagSection): string {
  const column = section.column ?? 25;
  const lines = section.flags.map((f) => {
    const [first, ...rest] = f.help.split("\n");
    return [`  --${f.name}${f.value ? ` ${f.value}` : ""}`.padEnd(column) + first, ...rest.map((r) => " ".repeat(column) + r)].join("\n");
  });
  return [...(section.text === undefined ? [] : [section.text]), ...lines].join("\n");
}

// The flags several commands share.

export const CONFIG: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "config",
  value: "<module>",
  help: "a module exporting the configured Outbox as default or `outbox`",
};
export const DATABASE_URL: Flag<{ kind: "text" }> = { kind: "text", name: "database-url", value: "<url>", help: "PostgreSQL URL (default: $DATABASE_URL)" };
export const SCHEMA: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "schema",
  value: "<name>",
  help: `the outbox schema, with --database-url (default: ${DEFAULT_SCHEMA})`,
};
/** How to reach the outbox, for every command but the worker. */
export const CONNECTION: FlagSection = { text: "Connection (one of):", flags: [CONFIG, DATABASE_URL, SCHEMA] };
/** Shown in each synopsis as `[--json]`, not on a line of its own. */
export const JSON_OUTPUT: Flag<{ kind: "switch" }> = { kind: "switch", name: "json", help: "print the result as JSON" };

/** Narrows a look-up by id to one source. */
export const ID_SOURCE: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "source",
  value: "<source>",
  help: "which source's event, when several sources used the same id",
};
export const TYPE: Flag<{ kind: "text" }> = { kind: "text", name: "type", value: "<type>", help: "one event type" };
export const SOURCE: Flag<{ kind: "text" }> = { kind: "text", name: "source", value: "<source>", help: "one source" };
export const TYPE_PREFIX: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "type-prefix",
  value: "<prefix>",
  help: "every type that starts with it, e.g. order.",
};
export const SINCE: Flag<{ kind: "text" }> = { kind: "text", name: "since", value: "<time>", help: "events stored at or after this ISO 8601 time" };
export const UNTIL: Flag<{ kind: "text" }> = { kind: "text", name: "until", value: "<time>", help: "events stored before this ISO 8601 time" };
/** The filters of the bulk commands (retry, replay), besides --destination and --status. */
export const FILTERS: readonly Flag[] = [TYPE, TYPE_PREFIX, SOURCE, SINCE, UNTIL];

/** How many events `pg-dispatch events` lists when `--limit` does not say. */
export const DEFAULT_EVENTS_LIMIT = 20;

// The flags of one command each.

export const EVENTS_STATUS: Flag<{ kind: "word"; words: typeof EVENT_STATUSES }> = {
  kind: "word",
  words: EVENT_STATUSES,
  name: "status",
  value: "<status>",
  help: words(EVENT_STATUSES),
};
export const LIMIT: Flag<{ kind: "integer"; min: number; max: number }> = {
  kind: "integer",
  min: 1,
  max: PAGE_LIMIT.max,
  name: "limit",
  value: "<n>",
  help: `page size, 1 to ${PAGE_LIMIT.max} (default ${DEFAULT_EVENTS_LIMIT})`,
};
export const CURSOR: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "cursor",
  value: "<cursor>",
  help: "the next page, as printed at the end of the previous one",
};

/** `retry --status failed`: the only status a bulk retry takes (named in the synopsis, not on a line). */
export const RETRY_STATUS: Flag<{ kind: "word"; words: readonly ["failed"] }> = { kind: "word", words: ["failed"], name: "status", help: "failed" };
export const RETRY_DESTINATION: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "destination",
  value: "<name>",
  help: "only the failed deliveries to this destination",
};
export const RETRY_DRY_RUN: Flag<{ kind: "switch" }> = { kind: "switch", name: "dry-run", help: "only count what would be retried" };

export const REPLAY_DESTINATION: Flag<{ kind: "text" }> = {
  kind: "text",
  name: "destination",
  value: "<name>",
  help: "required: the destination to send the events to",
};
export const REPLAY_STATUS: Flag<{ kind: "word"; words: typeof FINISHED_STATUSES }> = {
  kind: "word",
  words: FINISHED_STATUSES,
  name: "status",
  value: "<status>",
  help: `${words(FINISHED_STATUSES)} (default: both)`,
};
export const REPLAY_DRY_RUN: Flag<{ kind: "switch" }> = { kind: "switch", name: "dry-run", help: "only count what would be replayed" };

export const MAX_TRANSACTION_AGE: Flag<{ kind: "duration"; min: number; max: number }> = {
  kind: "duration",
  min: 1,
  max: 7 * 86_400_000,
  name: "max-transaction-age",
  value: "<duration>",
  help: `report transactions older than this, e.g. 30s, 5m, 1h (default ${duration(DEFAULT_DOCTOR.maxTransactionAgeMs)})`,
};

/** The worker's log level. */
export const LOG_LEVEL: Flag<{ kind: "word"; words: typeof LOG_LEVELS }> = {
  kind: "word",
  words: LOG_LEVELS,
  name: "log-level",
  value: "<level>",
  help: `${words(LOG_LEVELS)} (default ${DEFAULT_LOG_LEVEL})`,
};
