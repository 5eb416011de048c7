// The CLI's flags are declared once (src/cli/flags.ts, src/cli/worker-flags.ts, the command table in src/cli/usage.ts):
// these tests hold every command's parser, checks and help to that table, and the defaults the help states to the
// exported constants. In process, no database: the command line is all that is checked here.
import { describe, expect, test } from "vitest";
import { DEFAULT_LOG_LEVEL, DEFAULT_WORKER } from "../mod.ts";
import { parseCommandLine, UsageError } from "../src/cli/args.ts";
import { DEFAULT_EVENTS_LIMIT, type Flag, read } from "../src/cli/flags.ts";
import { commandFlags, commandPositionals, COMMANDS, type CommandName, usage } from "../src/cli/usage.ts";
import { WORKER_FLAGS } from "../src/cli/worker-flags.ts";
import { DEFAULT_DOCTOR } from "../src/doctor/finding.ts";
import { DEFAULT_SCHEMA } from "../src/schema.ts";
import { PAGE_LIMIT } from "../src/store/events.ts";

/** The positionals a command needs, so that a command line is complete apart from the flag under test. */
function positionals(command: CommandName): string[] {
  return commandPositionals(command).filter((p) => !p.endsWith("?")).map((p) => `some-${p}`);
}

/** Parses `command --flag value` and reads the flag through its declaration, or returns the usage error. */
function value(command: CommandName, flag: Flag, raw: string): unknown {
  try {
    const inv = parseCommandLine([command, ...positionals(command), `--${flag.name}=${raw}`])!;
    return read(inv, flag as never);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
}

const every = COMMANDS.flatMap((command) => [...commandFlags(command).values()].map((flag) => [command, flag] as const));

describe("each flag a command takes is in its help, and each flag in its help is taken", () => {
  test.each(COMMANDS)("%s", (command) => {
    const help = usage(command);
    const taken = [...commandFlags(command).keys()].sort();
    for (const name of taken) expect(help, `--${name}`).toMatch(new RegExp(`--${name}\\b`));
    const shown = [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]);
    for (const name of shown) expect(taken, `--${name} is shown but not taken`).toContain(name);
    // A flag no command declares is refused, naming it.
    expect(() => parseCommandLine([command, ...positionals(command), "--no-such-flag"])).toThrow(/--no-such-flag/);
  });
});

describe("each flag is checked as its declaration says", () => {
  test.each(every.filter(([, f]) => f.kind === "integer").map(([c, f]) => [`${c} --${f.name}`, c, f] as const))("%s", (_, command, flag) => {
    if (flag.kind !== "integer") throw new Error("not an integer flag");
    expect(value(command, flag, String(flag.min))).toBe(flag.min);
    expect(value(command, flag, String(flag.max))).toBe(flag.max);
    for (const bad of [String(flag.max + 1), "lots", "1.5", "-1", ...(flag.min > 0 ? [String(flag.min - 1)] : [])]) {
      const err = value(command, flag, bad);
      expect(err, bad).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toBe(`--${flag.name} must be a whole number from ${flag.min} to ${flag.max}, got ${JSON.stringify(bad)}.`);
    }
  });

  test.each(every.filter(([, f]) => f.kind === "duration").map(([c, f]) => [`${c} --${f.name}`, c, f] as const))("%s", (_, command, flag) => {
    if (flag.kind !== "duration") throw new Error("not a duration flag");
    expect(value(command, flag, "90s")).toBe(90_000);
    expect(value(command, flag, "5m")).toBe(300_000);
    expect(value(command, flag, `${flag.max / 3_600_000}h`)).toBe(flag.max);
    for (const bad of ["soon", "5", `${flag.max / 3_600_000 + 1}h`, "0ms"]) expect(value(command, flag, bad), bad).toBeInstanceOf(UsageError);
  });

  test.each(every.filter(([, f]) => f.kind === "word").map(([c, f]) => [`${c} --${f.name}`, c, f] as const))("%s", (_, command, flag) => {
    if (flag.kind !== "word") throw new Error("not a word flag");
    for (const word of flag.words) expect(value(command, flag, word)).toBe(word);
    const err = value(command, flag, "lost");
    expect((err as UsageError).message).toBe(`--${flag.name} must be one of ${flag.words.join(", ")}, got "lost".`);
  });

  test.each(every.filter(([, f]) => f.kind === "switch").map(([c, f]) => [`${c} --${f.name}`, c, f] as const))("%s", (_, command, flag) => {
    const inv = parseCommandLine([command, ...positionals(command), `--${flag.name}`])!;
    expect(read(inv, flag as Flag<{ kind: "switch" }>)).toBe(true);
    expect(read(parseCommandLine([command, ...positionals(command)])!, flag as Flag<{ kind: "switch" }>)).toBe(false);
    expect(() => parseCommandLine([command, ...positionals(command), `--${flag.name}=yes`])).toThrow(UsageError);
  });

  test.each(every.filter(([, f]) => f.kind === "text").map(([c, f]) => [`${c} --${f.name}`, c, f] as const))("%s", (_, command, flag) => {
    expect(value(command, flag, "x y")).toBe("x y");
    expect(() => parseCommandLine([command, ...positionals(command), `--${flag.name}`])).toThrow(/argument missing|needs a value/);
  });
});

describe("the help states the defaults the code uses", () => {
  test("worker: DEFAULT_WORKER and the default log level", () => {
    const help = usage("worker");
    for (const flag of WORKER_FLAGS) {
      for (const line of flag.help.split("\n")) expect(help, flag.name).toContain(line);
      // batchSize has no default of its own: it follows concurrency.
      const fallback = flag.option === "batchSize" ? "concurrency" : DEFAULT_WORKER[flag.option];
      expect(flag.help, flag.name).toMatch(new RegExp(`\\(default ${fallback}[,)]`));
    }
    expect(help).toContain(`--log-level <level>          debug, info, warn or error (default ${DEFAULT_LOG_LEVEL})`);
  });

  test("worker: every setting in DEFAULT_WORKER can be set from the command line", () => {
    const flagged = WORKER_FLAGS.map((f) => f.option as string);
    for (const option of Object.keys(DEFAULT_WORKER)) expect(flagged, option).toContain(option);
  });

  test("events, doctor and the connection flags", () => {
    expect(usage("events")).toContain(`page size, 1 to ${PAGE_LIMIT.max} (default ${DEFAULT_EVENTS_LIMIT})`);
    expect(usage("doctor")).toContain(`(default ${DEFAULT_DOCTOR.maxTransactionAgeMs / 60_000}m)`);
    for (const command of COMMANDS.filter((c) => c !== "worker")) expect(usage(command)).toContain(`(default: ${DEFAULT_SCHEMA})`);
  });
});
