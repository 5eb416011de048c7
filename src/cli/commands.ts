import process from "node:process";
import type { EventRecord } from "../record.ts";
import { DispatchError } from "../errors.ts";
import { type Invocation, UsageError } from "./args.ts";
import { CliError, type Loaded } from "./config.ts";
import { CONFIG, CURSOR, DEFAULT_EVENTS_LIMIT, EVENTS_STATUS, FILTERS, ID_SOURCE, LIMIT, read, RETRY_DESTINATION, RETRY_DRY_RUN, RETRY_STATUS, SCHEMA, SOURCE, TYPE, TYPE_PREFIX } from "./flags.ts";
import { formatEvent, formatEvents, formatStats, printable } from "./format.ts";
import { bulkRetryCommand, typeFlags } from "./operations.ts";

/** A command checks its flags first (so a typo never waits on a database), then runs on the loaded outbox. */
export type Command = (inv: Invocation) => (loaded: Loaded) => Promise<number>;

/**
 * Prints one result: JSON with --json, else the human form. The formatters escape each value they show (so that a
 * newline in a value cannot forge a line); escaping each printed line again is the net for anything they missed.
 */
export function print(inv: Invocation, value: unknown, human: () => string): void {
  process.stdout.write(`${inv.flags.json ? JSON.stringify(value, null, 2) : human().split("\n").map(printable).join("\n")}\n`);
}

/** `pg-dispatch migrate` */
export function migrateCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  return async ({ outbox }) => {
    const applied = await outbox.migrate();
    const schema = outbox.schema.name;
    print(inv, { schema, applied }, () =>
      applied.length
        ? `Applied migration${applied.length > 1 ? "s" : ""} ${applied.join(", ")} to schema "${schema}".`
        : `Schema "${schema}" is up to date.`);
    return 0;
  };
}

/** `pg-dispatch status <id>` */
export function statusCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const id = inv.positionals[0];
  const source = read(inv, ID_SOURCE);
  return async ({ outbox }) => {
    const event = await outbox.getEvent(id, { source, history: true });
    if (!event) throw new CliError(notFound(id, source));
    print(inv, event, () => formatEvent(event));
    return 0;
  };
}

/** `pg-dispatch events` */
export function eventsCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const filter = {
    status: read(inv, EVENTS_STATUS),
    type: typeFlags(inv),
    source: read(inv, SOURCE),
    limit: read(inv, LIMIT) ?? DEFAULT_EVENTS_LIMIT,
    cursor: read(inv, CURSOR),
    // The table shows no data: leave it in the database, however large the events.
    data: inv.flags.json === true,
  };
  return async ({ outbox }) => {
    const page = await outbox.listEvents(filter).catch((err: unknown) => {
      // The core speaks of nextCursor; the CLI user only ever saw the "More:" line. The core's error is the cause.
      if (err instanceof DispatchError && err.field === "cursor") {
        throw new DispatchError(
          err.code,
          `--cursor ${JSON.stringify(filter.cursor)} is not one pg-dispatch events printed; copy it from the "More:" line of the previous page.`,
          { cause: err, field: err.field },
        );
      }
      throw err;
    });
    print(inv, page, () => formatEvents(page, (cursor) => nextPage(inv, cursor)));
    return 0;
  };
}

/** `pg-dispatch retry <id>`: says which deliveries it made due, and why when none. */
export function retryCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const id = inv.positionals[0];
  if (id === undefined) return bulkRetryCommand(inv);
  // The bulk form's flags, but --source: it narrows the id too.
  const bulk = [RETRY_STATUS, ...FILTERS, RETRY_DESTINATION, RETRY_DRY_RUN].find((f) => f !== SOURCE && inv.flags[f.name] !== undefined);
  if (bulk) throw new UsageError(`--${bulk.name} filters a bulk retry; leave out the id to retry every matching event, or the flag to retry this one.`, inv.command);
  const source = read(inv, ID_SOURCE);
  return async ({ outbox }) => {
    const before = await outbox.getEvent(id, { source });
    if (!before) throw new CliError(notFound(id, source));
    const after = (await outbox.retryEvent(id, { source: before.source })) ?? before;
    const stillFailed = failedNames(after);
    const retried = failedNames(before).filter((name) => !stillFailed.includes(name));
    const shown = printable(id);
    print(inv, { retried, event: after }, () => {
      if (retried.length) return `Retrying ${retried.map(printable).join(", ")} for event ${shown}: due now.`;
      if (stillFailed.length) return `Event ${shown} is held by a worker right now; run retry again in a moment.`;
      return `Event ${shown} has no failed deliveries (status ${after.status}); nothing to retry.`;
    });
    return 0;
  };
}

/** `pg-dispatch stats` */
export function statsCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  return async ({ outbox }) => {
    const stats = await outbox.stats();
    print(inv, stats, () => formatStats(stats));
    return 0;
  };
}

function failedNames(event: EventRecord): string[] {
  return event.deliveries.filter((d) => d.status === "failed").map((d) => d.name);
}

function notFound(id: string, source: string | undefined): string {
  return `No event with id ${JSON.stringify(id)}${source === undefined ? "" : ` from source ${JSON.stringify(source)}`}.`;
}

/** The same command line with the next page's cursor, for the user to copy (never the URL: it may hold a password). */
function nextPage(inv: Invocation, cursor: string): string {
  const args = ["pg-dispatch", "events"];
  for (const flag of [EVENTS_STATUS, TYPE, TYPE_PREFIX, SOURCE, LIMIT, CONFIG, SCHEMA]) {
    const value = inv.flags[flag.name];
    if (typeof value === "string") args.push(`--${flag.name}`, shellQuote(value));
  }
  args.push("--cursor", cursor);
  return args.join(" ");
}

function shellQuote(value: string): string {
  return /^[\w./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
