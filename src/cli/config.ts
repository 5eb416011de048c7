import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { extname, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { Outbox } from "../outbox.ts";
import type { WorkerOptions } from "../worker.ts";
import { type Invocation, UsageError } from "./args.ts";
import { CONFIG, DATABASE_URL, read, SCHEMA } from "./flags.ts";
import { redact } from "./redact.ts";

/** A failure the CLI reports as one line and exit status 1: the command line was fine, the world was not. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** How long to wait for the database to answer before saying it is unreachable. */
export const CONNECT_TIMEOUT_S = 5;

/** The outbox a command works on, and where it came from (for messages). */
export interface Loaded {
  outbox: Outbox;
  /** `--config ./x.mjs` or `--database-url` (the password never printed). */
  origin: string;
  /** The config module's `onDeliveryFailed` export, which `pg-dispatch worker` passes to its worker. */
  onDeliveryFailed?: WorkerOptions["onDeliveryFailed"];
}

/**
 * The outbox from `--config <module>`, or one built from `--database-url` / `DATABASE_URL` and `--schema`.
 * The worker needs the config module: only it knows the destinations.
 */
export async function loadOutbox(inv: Invocation, needConfig = false): Promise<Loaded> {
  const config = read(inv, CONFIG);
  const url = read(inv, DATABASE_URL);
  const schema = read(inv, SCHEMA);
  if (config !== undefined && (url !== undefined || schema !== undefined)) {
    throw new UsageError("Pass either --config, or --database-url and --schema, not both.", inv.command);
  }
  if (config !== undefined) return { ...(await importConfig(config)), origin: config };
  if (needConfig) throw new UsageError(`${inv.command} needs --config <module>: the module that registers the destinations.`, inv.command);
  const databaseUrl = url ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new UsageError("No database given: pass --config <module> or --database-url <url>, or set DATABASE_URL.", inv.command);
  }
  const where = url === undefined ? "DATABASE_URL" : "--database-url";
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(`${where} must be a postgres:// URL, e.g. postgres://user:password@host:5432/database.`, inv.command);
  }
  let sql: postgres.Sql;
  try {
    sql = postgres(databaseUrl, { max: 2, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} });
  } catch (err) {
    // The driver parses the URL at once: a port that is not a number, a raw "#" or "?" in the password.
    throw new UsageError(
      `${where} is not a valid URL (${oneLine(err)}); check the port, and percent-encode special characters in the user name and password ("@" as %40, "#" as %23, "/" as %2F).`,
      inv.command,
    );
  }
  try {
    return { outbox: new Outbox({ sql, schema }), origin: redact(databaseUrl) };
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw err;
  }
}

/**
 * Imports a config module (relative to the working directory) and finds the Outbox it exports, and the optional
 * `onDeliveryFailed` hook for the worker.
 */
async function importConfig(path: string): Promise<{ outbox: Outbox; onDeliveryFailed?: WorkerOptions["onDeliveryFailed"] }> {
  const file = resolve(process.cwd(), path);
  if (!existsSync(file)) throw new CliError(`Config module ${path} not found (looked for ${file}).`);
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code === "ERR_UNKNOWN_FILE_EXTENSION" && [".ts", ".mts", ".cts"].includes(extname(file))) {
      throw new CliError(
        `Node ${process.versions.node} cannot load the TypeScript config ${path}: use Node >= 22.6 (--experimental-strip-types before 23.6), bun or deno, or point --config at compiled JavaScript.`,
      );
    }
    const reason = err instanceof SyntaxError ? `SyntaxError: ${oneLine(err)}` : oneLine(err);
    throw new CliError(`Config module ${path}${lineOf(err, file)} failed to load: ${reason}`);
  }
  const outbox = mod.default ?? mod.outbox;
  if (!isOutbox(outbox)) {
    const names = Object.keys(mod).join(", ") || "none";
    throw new CliError(
      `Config module ${path} must export the configured Outbox as default or as \`outbox\` (its exports: ${names}).`,
    );
  }
  const onDeliveryFailed = mod.onDeliveryFailed;
  if (onDeliveryFailed === undefined) return { outbox };
  if (typeof onDeliveryFailed !== "function") {
    throw new CliError(`Config module ${path} exports onDeliveryFailed, but as ${typeof onDeliveryFailed}: export a function (failure) => void.`);
  }
  return { outbox, onDeliveryFailed: onDeliveryFailed as WorkerOptions["onDeliveryFailed"] };
}

/**
 * Where in the config module the error arose, as ":line:column", from its stack: a syntax error's stack starts with
 * the file and line, a thrown error's has a frame in the file. Empty when the stack does not say.
 */
function lineOf(err: unknown, file: string): string {
  let stack = String((err as { stack?: unknown } | null)?.stack ?? "");
  // Node keeps a module's syntax error location out of the error itself (it prints it only for an uncaught one), so
  // ask `node --check`, whose report starts with "/path/to/config.mjs:3". Elsewhere the error's stack is all there is.
  if (err instanceof SyntaxError && !("Bun" in globalThis) && !("Deno" in globalThis)) {
    stack += spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 5000 }).stderr ?? "";
  }
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const at = new RegExp(`(?:${escape(pathToFileURL(file).href)}|${escape(file)}):(\\d+)(?::(\\d+))?`).exec(stack);
  return at ? `:${at[1]}${at[2] ? `:${at[2]}` : ""}` : "";
}

/**
 * Duck-typed on purpose: a config importing pg-dispatch from another copy (the app's node_modules, when the CLI
 * runs from npx's cache) builds an Outbox of a different class object.
 */
function isOutbox(value: unknown): value is Outbox {
  if (value instanceof Outbox) return true;
  const v = value as Record<string, unknown> | null;
  return !!v && typeof v === "object" && typeof v.worker === "function" && typeof v.migrate === "function" &&
    typeof v.getEvent === "function" && typeof (v.sql as { end?: unknown })?.end === "function";
}

/**
 * Runs `select 1` (and, unless migrating, checks the tables exist) within the connect timeout, so a wrong URL or a
 * down server is one clear line at once rather than a worker retrying forever.
 */
export async function checkDatabase(loaded: Loaded, tables = true): Promise<void> {
  const { outbox, origin } = loaded;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_S} s`)), CONNECT_TIMEOUT_S * 1000);
  });
  let ready: boolean;
  try {
    const check = outbox.sql.unsafe(`select 1 as ok, to_regclass($1) is not null as ready`, [`${outbox.schema.quoted}.events`]);
    const [row] = await Promise.race([check, timeout]);
    ready = row.ready === true;
  } catch (err) {
    throw new CliError(`Cannot connect to the database (${origin}): ${oneLine(err)}`);
  } finally {
    clearTimeout(timer);
  }
  if (tables && !ready) {
    throw new CliError(
      `The outbox tables are missing in schema "${outbox.schema.name}": run pg-dispatch migrate first, or point this ` +
        "command at the schema your outbox uses (--schema <name>, or --config <module>).",
    );
  }
}

/** An error's message on one line, with the code postgres.js and Node put on connection errors. */
export function oneLine(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown };
  let message = typeof e?.message === "string" && e.message ? e.message : String(err);
  // postgres.js reports a refused connection as "connect ECONNREFUSED 127.0.0.1:1"; AggregateErrors carry no message.
  const errors = (err as { errors?: unknown[] })?.errors;
  if (message === String(err) && Array.isArray(errors) && errors.length) message = oneLine(errors[0]);
  if (typeof e?.code === "string" && !message.includes(e.code)) message = `${e.code}: ${message}`;
  return message.replace(/\s*\n\s*/g, " ").trim();
}
