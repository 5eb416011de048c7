import type { Sql } from "postgres";
import type { Schema } from "../schema.ts";

/** How bad a finding is: `info` when all is well (or only worth knowing), `warning` and `error` when something is wrong. */
export type Severity = "info" | "warning" | "error";

/** What one doctor check found: one per problem, or one saying the check passed. */
export interface Finding {
  /** The check that found it: `autovacuum`, `transactions`, `replication-slots`, `notification-queue`, `pooler`, `migrations`, `bloat`, `wake`. */
  check: string;
  /** False when something is wrong; `pg-dispatch doctor` then exits with 1. */
  ok: boolean;
  severity: Severity;
  /** What is the case, with the figures. */
  message: string;
  /** What to do about it (SQL to run, a setting to change); null when nothing needs doing. */
  fix: string | null;
  /** The figures behind the message, for scripts (`--json`). */
  details?: Record<string, unknown>;
}

/** What the checks look at: the outbox's connection and schema, and its wake-up mode when it has one. */
export interface Patient {
  sql: Sql;
  schema: Schema;
  /** How the worker learns of new rows; `notify` (LISTEN/NOTIFY) when absent. */
  wake?: unknown;
  /** Where the worker LISTENs when it is not where `sql` connects (the Outbox's `listenUrl`, past a pooler). */
  listenUrl?: string | undefined;
}

/** Thresholds the checks compare against. */
export interface DoctorOptions {
  /** A transaction holding the xmin horizon longer than this is reported, in milliseconds. Default 5 minutes. */
  maxTransactionAgeMs?: number;
  /** How long the pooler check waits for its notification to come back, in milliseconds. Default 3000. */
  listenTimeoutMs?: number;
}

/** The defaults of {@link DoctorOptions}. */
export const DEFAULT_DOCTOR = { maxTransactionAgeMs: 300_000, listenTimeoutMs: 3_000 } as const;

/** One check: reads what it needs and says what it found (at least one finding). */
export type Check = (patient: Patient, options: Required<DoctorOptions>) => Promise<Finding[]>;

/** A finding that says a check passed. */
export function healthy(check: string, message: string, details?: Record<string, unknown>): Finding {
  return { check, ok: true, severity: "info", message, fix: null, ...(details ? { details } : {}) };
}

/** A finding that says something is wrong, and what to do. */
export function problem(
  check: string,
  severity: "warning" | "error",
  message: string,
  fix: string,
  details?: Record<string, unknown>,
): Finding {
  return { check, ok: false, severity, message, fix, ...(details ? { details } : {}) };
}

/** The quoted, schema-qualified name of a table, for the SQL a fix shows. */
export function qualified(schema: Schema, table: string): string {
  return `${schema.quoted}."${table.replaceAll('"', '""')}"`;
}

/** A size for a message: `12.3 MiB`. */
export function mebibytes(bytes: unknown): string {
  return `${(Number(bytes) / 1_048_576).toFixed(1)} MiB`;
}
