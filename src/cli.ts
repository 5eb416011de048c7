#!/usr/bin/env node
/**
 * The `pg-dispatch` command line: run the worker, migrate, and look at events. Runs on Node (built JS), Bun and Deno.
 *
 * ```sh
 * pg-dispatch worker --config ./dispatch.config.mjs --concurrency 32
 * pg-dispatch migrate --database-url postgres://localhost/app
 * pg-dispatch events --status failed
 * ```
 *
 * @module
 */
import { realpathSync } from "node:fs";
import process from "node:process";
import { setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import { type Invocation, parseCommandLine, UsageError } from "./cli/args.ts";
import {
  type Command,
  eventsCommand,
  migrateCommand,
  retryCommand,
  statsCommand,
  statusCommand,
} from "./cli/commands.ts";
import { checkDatabase, CliError, type Loaded, loadOutbox, oneLine } from "./cli/config.ts";
import { doctorCommand } from "./cli/doctor.ts";
import { destinationsCommand, pauseCommand, replayCommand, resumeCommand } from "./cli/operations.ts";
import { printable } from "./cli/format.ts";
import { redact } from "./cli/redact.ts";
import { type CommandName, usage } from "./cli/usage.ts";
import { packageVersion } from "./cli/version.ts";
import { workerCommand } from "./cli/worker.ts";
import { DispatchError } from "./errors.ts";

const COMMANDS: Record<CommandName, Command> = {
  worker: workerCommand,
  migrate: migrateCommand,
  status: statusCommand,
  events: eventsCommand,
  retry: retryCommand,
  replay: replayCommand,
  pause: pauseCommand,
  resume: resumeCommand,
  destinations: destinationsCommand,
  stats: statsCommand,
  doctor: doctorCommand,
};

/**
 * Runs one command line (without the `node cli.js` part) and resolves with the exit status: 0 done, 1 failed
 * (unreachable database, bad config module, no such event), 2 the command line itself is wrong.
 *
 * @example
 * ```ts
 * import { main } from "pg-dispatch/cli";
 *
 * process.exitCode = await main(["stats", "--database-url", process.env.DATABASE_URL!]);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  let inv: Invocation | null = null;
  let loaded: Loaded | undefined;
  let failed = true;
  try {
    if (argv.length === 1 && argv[0] === "--version") {
      process.stdout.write(`${await packageVersion()}\n`);
      return 0;
    }
    inv = parseCommandLine(argv);
    if (!inv || inv.help) {
      process.stdout.write(`${usage(inv?.command ?? null)}\n`);
      return 0;
    }
    const run = COMMANDS[inv.command](inv);
    loaded = await loadOutbox(inv, inv.command === "worker");
    // migrate creates the tables; doctor reports their absence as one of its findings.
    await checkDatabase(loaded, inv.command !== "migrate" && inv.command !== "doctor");
    const code = await run(loaded);
    failed = false;
    return code;
  } catch (err) {
    return report(err, inv?.command ?? null);
  } finally {
    // After a failure a connection attempt may still hang (a silent host): drop it rather than wait.
    await loaded?.outbox.sql.end({ timeout: failed ? 0 : 5 }).catch(() => {});
  }
}

/**
 * One line on stderr saying what went wrong; the usage too when the command line was at fault. The line often
 * echoes what was typed or stored, so it is shown with passwords hidden and control characters escaped.
 */
function report(err: unknown, command: CommandName | null): number {
  const line = (message: string): string => `pg-dispatch: ${printable(redact(message))}\n`;
  if (err instanceof UsageError) {
    process.stderr.write(`${line(err.message)}\n${usage(err.command)}\n`);
    return 2;
  }
  if (isInvalidOption(err)) {
    // A value the core refused (a bad schema name, a lease shorter than the handler timeout, a stale cursor).
    const help = command ? `pg-dispatch ${command} --help` : "pg-dispatch --help";
    process.stderr.write(`${line(err.message)}See ${help}.\n`);
    return 2;
  }
  process.stderr.write(line(err instanceof CliError ? err.message : oneLine(err)));
  return 1;
}

/**
 * A DispatchError("invalid_option"), matched by shape: under Bun and Deno the CLI runs the .ts sources while a config
 * module may have imported the built JS, so the same error can come from another copy of the class.
 */
function isInvalidOption(err: unknown): err is Error {
  return err instanceof DispatchError ? err.code === "invalid_option"
    : err instanceof Error && err.name === "DispatchError" && (err as { code?: unknown }).code === "invalid_option";
}

/** True when this file is the program being run, not a module imported from `pg-dispatch/cli`. */
function isEntry(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main; // Deno, Bun, Node >= 24.2
  try {
    // npx runs node_modules/.bin/pg-dispatch, a symlink to this file.
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Everything is closed by now; should a destination's client still hold the event loop, do not hang the shell.
  setTimeout(() => process.exit(code), 3000).unref();
}
