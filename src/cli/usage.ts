import {
  CONNECTION,
  CURSOR,
  EVENTS_STATUS,
  FILTERS,
  type Flag,
  type FlagSection,
  ID_SOURCE,
  JSON_OUTPUT,
  LIMIT,
  MAX_TRANSACTION_AGE,
  REPLAY_DESTINATION,
  REPLAY_DRY_RUN,
  REPLAY_STATUS,
  RETRY_DESTINATION,
  RETRY_DRY_RUN,
  RETRY_STATUS,
  sectionHelp,
  SOURCE,
  TYPE,
  TYPE_PREFIX,
} from "./flags.ts";
import { HISTORY_SHOWN } from "./format.ts";
import { WORKER_OPTIONS } from "./worker-flags.ts";

/** The CLI's commands. */
export const COMMANDS = ["worker", "migrate", "status", "events", "retry", "replay", "pause", "resume", "destinations", "stats", "doctor"] as const;
/** One of {@link COMMANDS}. */
export type CommandName = (typeof COMMANDS)[number];

/**
 * One command: its synopsis, its help (paragraphs and flag sections, in order), the flags it takes that have no line
 * of their own (named in the synopsis), and its positional arguments (`name?` when optional).
 */
interface CommandSpec {
  synopsis: string;
  help: ReadonlyArray<string | FlagSection>;
  unlisted?: readonly Flag[];
  positionals: readonly string[];
  /** Said after "<command> needs <positional>.", for a likely mix-up. */
  missingHint?: string;
}

/** Every command but the worker reaches the outbox the same ways and can print JSON. */
const OUTPUT = [JSON_OUTPUT];

/** The commands, each flag declared in one section: parsing, checks and help all read this table. */
const SPECS: Record<CommandName, CommandSpec> = {
  worker: {
    synopsis: "Usage: pg-dispatch worker --config <module> [options]",
    help: [
      `Runs the outbox worker: delivers events to the destinations registered in the config module, logging one JSON
object per line to stdout. Stops gracefully on SIGINT or SIGTERM.`,
      { text: "Options:", flags: WORKER_OPTIONS, column: 31 },
    ],
    positionals: [],
  },
  migrate: {
    synopsis: "Usage: pg-dispatch migrate [connection] [--json]",
    help: ["Creates or upgrades the outbox tables. Idempotent; safe when several processes run it at once.", CONNECTION],
    unlisted: OUTPUT,
    positionals: [],
  },
  status: {
    synopsis: "Usage: pg-dispatch status <id> [--source <source>] [connection] [--json]",
    help: [
      `Shows one event: its status, each destination's delivery (status, attempts, last error, next attempt), and the
attempt history (when, destination, attempt, outcome, status code, duration, error; the newest ${HISTORY_SHOWN}, all with --json).`,
      { flags: [ID_SOURCE] },
      CONNECTION,
    ],
    unlisted: OUTPUT,
    positionals: ["id"],
    missingHint: "For the number of events in each status, run pg-dispatch stats.",
  },
  events: {
    synopsis: "Usage: pg-dispatch events [filters] [connection] [--json]",
    help: ["Lists events, newest first.", { text: "Filters:", flags: [EVENTS_STATUS, TYPE, TYPE_PREFIX, SOURCE, LIMIT, CURSOR] }, CONNECTION],
    unlisted: OUTPUT,
    positionals: [],
  },
  // `retry <id>` for one event, `retry --status failed [filters]` for many: the id is optional ("id?").
  retry: {
    synopsis: `Usage: pg-dispatch retry <id> [--source <source>] [connection] [--json]
       pg-dispatch retry --status failed [filters] [--dry-run] [connection] [--json]`,
    help: [
      {
        text: "With an id: makes the event's failed deliveries due now, with a fresh retry budget. Delivered ones are not sent again.",
        flags: [ID_SOURCE],
      },
      {
        text: "With --status failed: the same for every failed event matching the filters, in short batches; prints how many.",
        flags: [...FILTERS, RETRY_DESTINATION, RETRY_DRY_RUN],
      },
      CONNECTION,
    ],
    unlisted: [...OUTPUT, RETRY_STATUS],
    positionals: ["id?"],
  },
  replay: {
    synopsis: "Usage: pg-dispatch replay --destination <name> [filters] [--dry-run] [connection] [--json]",
    help: [
      `Sends finished (published or failed) events matching the filters to one destination again, or for the first time
to a destination registered after they were published (a backfill). Only that destination's delivery changes: it
becomes pending with a fresh retry budget; the other destinations keep their state and are not called. A worker
delivers them where the destination is registered for the event's type. Prints how many events became due.`,
      { flags: [REPLAY_DESTINATION, REPLAY_STATUS, ...FILTERS, REPLAY_DRY_RUN] },
      CONNECTION,
    ],
    unlisted: OUTPUT,
    positionals: [],
  },
  pause: {
    synopsis: "Usage: pg-dispatch pause <destination> [connection] [--json]",
    help: [
      `Pauses a destination for every worker: events keep being published and wait for it; nothing is attempted there and
no retry is used up until pg-dispatch resume. The name need not be registered where this runs; with --config, a
name the config module does not register gets a note on stderr, in case it is a typo.`,
      CONNECTION,
    ],
    unlisted: OUTPUT,
    positionals: ["destination"],
  },
  resume: {
    synopsis: "Usage: pg-dispatch resume <destination> [connection] [--json]",
    help: ["Resumes a paused destination: what waited for it is due now.", CONNECTION],
    unlisted: OUTPUT,
    positionals: ["destination"],
  },
  destinations: {
    synopsis: "Usage: pg-dispatch destinations [connection] [--json]",
    help: ["Lists the paused destinations and when each was paused.", CONNECTION],
    unlisted: OUTPUT,
    positionals: [],
  },
  stats: {
    synopsis: "Usage: pg-dispatch stats [connection] [--json]",
    help: ["Counts events by status, and shows how long the oldest due event has waited.", CONNECTION],
    unlisted: OUTPUT,
    positionals: [],
  },
  doctor: {
    synopsis: "Usage: pg-dispatch doctor [--max-transaction-age <duration>] [connection] [--json]",
    help: [
      `Checks what the outbox needs from its database and prints the fix for each problem: autovacuum off or too lax for
the outbox's tables; transactions, idle-in-transaction sessions and replication slots that hold the xmin horizon;
notification queue usage; a pooler in front that breaks LISTEN; pending migrations; dead rows and bloat; what the
wake-up mode needs. Exits with 1 when anything is wrong, 0 when all is well.`,
      { flags: [MAX_TRANSACTION_AGE], column: 37 },
      "Run it as a member of pg_monitor to see every role's sessions.",
      CONNECTION,
    ],
    unlisted: OUTPUT,
    positionals: [],
  },
};

const OVERVIEW = `Usage: pg-dispatch <command> [options]

Commands:
  worker --config <module>   run the outbox worker
  migrate                    create or upgrade the outbox tables
  status <id>                one event, its deliveries and its attempts
  events                     list events (--status failed, --type, --type-prefix, --source, --limit, --cursor)
  retry <id>                 retry an event's failed deliveries
  retry --status failed      retry every failed event matching filters (--type, --source, --destination, --dry-run)
  replay --destination <d>   send finished events to one destination again, or backfill a new one
  pause <destination>        pause a destination for every worker
  resume <destination>       resume a paused destination
  destinations               the paused destinations
  stats                      counts by status, age of the oldest due event
  doctor                     check the database for what hurts an outbox, with fixes

Run pg-dispatch <command> --help for a command's options; pg-dispatch --version prints the version.`;

/** The help text of one command, or the overview. */
export function usage(command: CommandName | null): string {
  if (!command) return OVERVIEW;
  const { synopsis, help } = SPECS[command];
  return [synopsis, ...help.map((part) => (typeof part === "string" ? part : sectionHelp(part)))].join("\n\n");
}

/**
 * The flags a command takes, by name: those of its help sections and its unlisted ones. A name may appear in two
 * sections (retry's `--source` means the same in both of its forms) as long as its kind is the same.
 */
export function commandFlags(command: CommandName): ReadonlyMap<string, Flag> {
  const { help, unlisted = [] } = SPECS[command];
  const flags = new Map<string, Flag>();
  for (const flag of [...help.flatMap((part) => (typeof part === "string" ? [] : part.flags)), ...unlisted]) {
    const seen = flags.get(flag.name);
    if (seen && seen.kind !== flag.kind) throw new Error(`pg-dispatch ${command}: --${flag.name} is declared twice with different kinds.`);
    flags.set(flag.name, flag);
  }
  return flags;
}

/** A command's positional arguments, `name?` when optional. */
export function commandPositionals(command: CommandName): readonly string[] {
  return SPECS[command].positionals;
}

/** What to add when the command's required positionals are missing, if anything. */
export function missingHint(command: CommandName): string | undefined {
  return SPECS[command].missingHint;
}
