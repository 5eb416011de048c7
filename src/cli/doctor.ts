import { diagnose, type Finding } from "../doctor/diagnose.ts";
import type { Invocation } from "./args.ts";
import { MAX_TRANSACTION_AGE, read } from "./flags.ts";
import { print } from "./commands.ts";
import type { Loaded } from "./config.ts";
import { printable } from "./format.ts";

const LABEL: Record<Finding["severity"], string> = { error: "ERROR", warning: "WARNING", info: "ok" };
const RANK: Record<Finding["severity"], number> = { error: 0, warning: 1, info: 2 };

/**
 * `pg-dispatch doctor`: runs every check, prints the problems first (each with its fix), then what is well; exits
 * with 1 when anything is wrong. `--json` prints `{ ok, findings }`.
 */
export function doctorCommand(inv: Invocation): (loaded: Loaded) => Promise<number> {
  const maxTransactionAgeMs = read(inv, MAX_TRANSACTION_AGE);
  return async ({ outbox, origin }) => {
    const findings = await diagnose(outbox, maxTransactionAgeMs === undefined ? {} : { maxTransactionAgeMs });
    const ok = findings.every((f) => f.ok);
    print(inv, { ok, findings }, () => formatFindings(findings, `schema "${outbox.schema.name}" at ${origin}`));
    return ok ? 0 : 1;
  };
}

/** The findings as a report: worst first, each message on one line and its fix on the next, every value escaped. */
export function formatFindings(findings: Finding[], where: string): string {
  const sorted = [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  const width = Math.max(...sorted.map((f) => f.check.length));
  const lines = sorted.flatMap((f) => {
    const head = `${LABEL[f.severity].padEnd(8)}${f.check.padEnd(width + 2)}`;
    const message = `${head}${printable(f.message)}`;
    return f.fix ? [message, `${" ".repeat(head.length)}fix: ${printable(f.fix)}`] : [message];
  });
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.filter((f) => !f.ok && f.severity === "warning").length;
  const verdict = errors + warnings === 0
    ? "No problems found."
    : `${plural(errors + warnings, "problem")} found (${plural(errors, "error")}, ${plural(warnings, "warning")}).`;
  return [`pg-dispatch doctor: ${printable(where)}`, "", ...lines, "", verdict].join("\n");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
