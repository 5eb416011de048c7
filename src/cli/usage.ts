import { workerOptionsHelp } from "./worker-flags.ts";

/** The CLI's commands. */
export const COMMANDS = ["worker", "migrate", "status", "events", "retry", "replay", "pause", "resume", "destinations", "stats", "doctor"] as const;
/** One of {@link COMMANDS}. */
export type CommandName = (typeof COMMANDS)[number];

const CONNECTION = `Connection (one of):
  --config <module>      a module exporting the configured Outbox as default or \`outbox\`
  --database-url <url>   PostgreSQL URL (default: $DATABASE_URL)
  --schema <name>        the outbox schema, with --database-url (default: dispatch)`;

const FILTERS = `  --type <type>          one event type
  --type-prefix <prefix> every type that starts with it, e.g. order.
  --source <source>      one source
  --since <time>         events stored at or after this ISO 8601 time
  --until <time>         events stored before this ISO 8601 time`;

const HELP: Record<CommandName, string> = {
  worker: `Usage: pg-dispatch worker --config <module> [options]

Runs the outbox worker: delivers events to the destinations registered in the config module, logging one JSON
object per line to stdout. Stops gracefully on SIGINT or SIGTERM.

Options:
${workerOptionsHelp()}`,
  migrate: `Usage: pg-dispatch migrate [connection] [--json]

Creates or upgrades the outbox tables. Idempotent; safe when several processes run it at once.

${CONNECTION}`,
  status: `Usage: pg-dispatch status <id> [--source <source>] [connection] [--json]

Shows one event: its status, each destination's delivery (status, attempts, last error, next attempt), and the
attempt history (when, destination, attempt, outcome, status code, duration, error; the newest 20, all with --json).

  --source <source>      which source's event, when several sources used the same id

${CONNECTION}`,
  events: `Usage: pg-dispatch events [filters] [connection] [--json]

Lists events, newest first.

Filters:
  --status <status>      pending, processing, published or failed
  --type <type>          one event type
  --source <source>      one source
  --limit <n>            page size, 1 to 1000 (default 20)
  --cursor <cursor>      the next page, as printed at the end of the previous one

${CONNECTION}`,
  retry: `Usage: pg-dispatch retry <id> [--source <source>] [connection] [--json]
       pg-dispatch retry --status failed [filters] [--dry-run] [connection] [--json]

With an id: makes the event's failed deliveries due now, with a fresh retry budget. Delivered ones are not sent again.
  --source <source>      which source's event, when several sources used the same id

With --status failed: the same for every failed event matching the filters, in short batches; prints how many.
${FILTERS}
  --destination <name>   only the failed deliveries to this destination
  --dry-run              only count what would be retried

${CONNECTION}`,
  replay: `Usage: pg-dispatch replay --destination <name> [filters] [--dry-run] [connection] [--json]

Sends finished (published or failed) events matching the filters to one destination again, or for the first time
to a destination registered after they were published (a backfill). Only that destination's delivery changes: it
becomes pending with a fresh retry budget; the other destinations keep their state and are not called. A worker
delivers them where the destination is registered for the event's type. Prints how many events became due.

  --destination <name>   required: the destination to send the events to
  --status <status>      published or failed (default: both)
${FILTERS}
  --dry-run              only count what would be replayed

${CONNECTION}`,
  pause: `Usage: pg-dispatch pause <destination> [connection] [--json]

Pauses a destination for every worker: events keep being published and wait for it; nothing is attempted there and
no retry is used up until pg-dispatch resume. The name need not be registered where this runs.

${CONNECTION}`,
  resume: `Usage: pg-dispatch resume <destination> [connection] [--json]

Resumes a paused destination: what waited for it is due now.

${CONNECTION}`,
  destinations: `Usage: pg-dispatch destinations [connection] [--json]

Lists the paused destinations and when each was paused.

${CONNECTION}`,
  stats: `Usage: pg-dispatch stats [connection] [--json]

Counts events by status, and shows how long the oldest due event has waited.

${CONNECTION}`,
  doctor: `Usage: pg-dispatch doctor [--max-transaction-age <duration>] [connection] [--json]

Checks what the outbox needs from its database and prints the fix for each problem: autovacuum off or too lax for
the outbox's tables; transactions, idle-in-transaction sessions and replication slots that hold the xmin horizon;
notification queue usage; a pooler in front that breaks LISTEN; pending migrations; dead rows and bloat; what the
wake-up mode needs. Exits with 1 when anything is wrong, 0 when all is well.

  --max-transaction-age <duration>   report transactions older than this, e.g. 30s, 5m, 1h (default 5m)

Run it as a member of pg_monitor to see every role's sessions.

${CONNECTION}`,
};

const OVERVIEW = `Usage: pg-dispatch <command> [options]

Commands:
  worker --config <module>   run the outbox worker
  migrate                    create or upgrade the outbox tables
  status <id>                one event, its deliveries and its attempts
  events                     list events (--status failed, --type, --source, --limit, --cursor)
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
  return command ? HELP[command] : OVERVIEW;
}
