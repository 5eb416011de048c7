import { DispatchError } from "./errors.ts";

/** A validated schema name, and the quoted identifiers built from it once. */
export interface Schema {
  readonly name: string;
  /** `"name"`, safe to splice into SQL. */
  readonly quoted: string;
  /** The LISTEN/NOTIFY channel the outbox uses: the schema name itself. */
  readonly channel: string;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema an outbox uses when its options do not name one. */
export const DEFAULT_SCHEMA = "dispatch";

/**
 * Validates a schema name. Only lower-case letters, digits and underscores are accepted, so the quoted name
 * can be spliced into DDL and statements without any escaping question.
 */
export function schema(name: string = DEFAULT_SCHEMA): Schema {
  if (typeof name !== "string" || !NAME.test(name) || name.startsWith("pg_")) {
    throw new DispatchError(
      "invalid_option",
      `Invalid schema name ${JSON.stringify(name)}: use 1-63 lower-case letters, digits or underscores, not starting with a digit or "pg_".`,
    );
  }
  return { name, quoted: `"${name}"`, channel: name };
}
