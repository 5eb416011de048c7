import { parseArgs } from "node:util";
import { type Invocation, UsageError } from "./invocation.ts";
import { commandFlags, commandPositionals, COMMANDS, type CommandName, missingHint } from "./usage.ts";

export { type Invocation, UsageError } from "./invocation.ts";

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
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, flag] of commandFlags(command)) options[name] = { type: flag.kind === "switch" ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(parseErrorMessage(err), command);
  }
  const help = parsed.values.help === true;
  const positionals = parsed.positionals;
  const wanted = commandPositionals(command);
  const required = wanted.filter((p) => !p.endsWith("?")).length;
  if (!help && (positionals.length < required || positionals.length > wanted.length)) {
    const want = wanted.map((p) => (p.endsWith("?") ? `[${p.slice(0, -1)}]` : `<${p}>`)).join(" ");
    throw new UsageError(
      positionals.length < required
        ? [`${command} needs ${want}.`, missingHint(command)].filter(Boolean).join(" ")
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
