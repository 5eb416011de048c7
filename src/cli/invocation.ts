import type { CommandName } from "./usage.ts";

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
