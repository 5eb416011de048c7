import type { EventFilter } from "../filter.ts";
import { type Invocation, UsageError } from "./args.ts";
import {
  type Flag,
  read,
  REPLAY_DESTINATION,
  REPLAY_DRY_RUN,
  REPLAY_STATUS,
  RETRY_DESTINATION,
  RETRY_DRY_RUN,
  RETRY_STATUS,
  SINCE,
  SOURCE,
  TYPE,
  TYPE_PREFIX,
  UNTIL,
} from "./flags.ts";
import { print } from "./commands.ts";
import type { Loaded } from "./config.ts";
import { printable, table, when } from "./format.ts";

/**
 * The filter of `retry --status failed ...` and `replay ...`, from its flags. A flag given twice or a bad time is a
 * usage error (exit 2) before anything touches the database.
 */
function filterOf(inv: Invocation, status: typeof RETRY_STATUS | typeof REPLAY_STATUS, destination?: typeof RETRY_DESTINATION): EventFilter {
  const filter: EventFilter = {};
  const s = read(inv, status);
  if (s) filter.status = s;
  const type = typeFlags(inv);
  if (type !== undefined) filter.type = type;
  const source = read(inv, SOURCE);
  if (source !== undefined) filter.source = source;
  if (destination) {
    const d = read(inv, destination);
    if (d !== undefined) filter.destination = d;
  }
  const since = time(inv, SINCE);
  if (since) filter.from = since;
  const until = time(inv, UNTIL);
  if (until) filter.to = until;
  if (since && until && since >= until) throw new UsageError("--since must be earlier than --until.", inv.command);
  return filter;
}

/**
 * `--type` or `--type-prefix`, as a filter's type (a prefix ends in `*`, as registrations write it); both at once, or
 * a `*` in `--type`, is a usage error.
 */
export function typeFlags(inv: Invocation): string | undefined {
  const type = read(inv, TYPE);
  const prefix = read(inv, TYPE_PREFIX);
  if (type !== undefined && prefix !== undefined) throw new UsageError("Pass --type or --type-prefix, not both.", inv.command);
  if (type !== undefined) {
    if (type.endsWith("*")) throw new UsageError(`--type takes one type; for a prefix write --type-prefix ${JSON.stringify(type.slice(0, -1))}.`, inv.command);
    return type;
  }
  return prefix === undefined ? undefined : `${prefix}*`;
}

function time(inv: Invocation, flag: Flag<{ kind: "text" }>): Date | undefined {
  const value = read(inv, flag);
  if (value === undefined) return undefined;
  const date = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(`--${flag.name} must be an ISO 8601 time such as 2025-01-31T12:00:00Z, got ${JSON.stringify(value)}.`, inv.command);
  }
  return date;
}

function events(n: number): string {
  return `${n} event${n === 1 ? "" : "s"}`;
}

/** `pg-dispatch retry --status failed [filters] [--dry-run]`: every matching failed delivery due again. */
export function bulkRetryCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  if (inv.flags[RETRY_STATUS.name] === undefined) {
    throw new UsageError("retry needs an event id, or --status failed to retry every failed event matching the filters.", inv.command);
  }
  const filter = filterOf(inv, RETRY_STATUS, RETRY_DESTINATION);
  const dryRun = read(inv, RETRY_DRY_RUN);
  return async ({ outbox }) => {
    const n = await outbox.retryEvents(filter, { dryRun });
    print(inv, { dryRun, events: n }, () =>
      dryRun ? `Would retry ${events(n)}.` : n ? `Retrying ${events(n)}: their failed deliveries are due now.` : "No failed events match; nothing to retry.");
    return 0;
  };
}

/** `pg-dispatch replay --destination d [filters] [--dry-run]`: finished events sent to one destination again. */
export function replayCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const destination = read(inv, REPLAY_DESTINATION);
  if (destination === undefined) throw new UsageError("replay needs --destination <name>: the one destination to send the events to.", inv.command);
  const filter = filterOf(inv, REPLAY_STATUS);
  const dryRun = read(inv, REPLAY_DRY_RUN);
  return async ({ outbox }) => {
    const n = await outbox.replayEvents(filter, { destination, dryRun });
    const to = printable(destination);
    print(inv, { dryRun, destination, events: n }, () =>
      dryRun ? `Would replay ${events(n)} to ${to}.` : n ? `Replaying ${events(n)} to ${to}: due now.` : "No finished events match; nothing to replay.");
    return 0;
  };
}

/** `pg-dispatch pause <destination>` */
export function pauseCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const name = inv.positionals[0];
  return async ({ outbox, origin }) => {
    await outbox.pauseDestination(name);
    const since = (await outbox.pausedDestinations()).find((d) => d.name === name)?.pausedAt ?? null;
    print(inv, { destination: name, paused: true, pausedAt: since }, () =>
      `Paused ${printable(name)} for every worker since ${when(since)}: events wait for it until pg-dispatch resume.`);
    // A config module knows the destinations: a name it does not register is most likely misspelt. It stays paused
    // all the same (pausing before a deploy that registers it is legitimate), so this is a note, not an error.
    const registered = outbox.routes().map((r) => r.name);
    if (registered.length > 0 && !registered.includes(name)) {
      process.stderr.write(
        `Note: config module ${origin} registers no destination named ${printable(name)} (it registers ` +
          `${registered.map(printable).join(", ")}). If that is a typo, pg-dispatch resume ${printable(name)} undoes it.\n`,
      );
    }
    return 0;
  };
}

/** `pg-dispatch resume <destination>` */
export function resumeCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const name = inv.positionals[0];
  return async ({ outbox }) => {
    const was = await outbox.resumeDestination(name);
    print(inv, { destination: name, resumed: was }, () =>
      was ? `Resumed ${printable(name)}: what waited for it is due now.` : `${printable(name)} was not paused; nothing to do.`);
    return 0;
  };
}

/** `pg-dispatch destinations`: the paused destinations and since when. */
export function destinationsCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  return async ({ outbox }) => {
    const paused = await outbox.pausedDestinations();
    print(inv, { paused }, () =>
      paused.length ? table(["PAUSED DESTINATION", "SINCE"], paused.map((d) => [printable(d.name), when(d.pausedAt)])) : "No destination is paused.");
    return 0;
  };
}
