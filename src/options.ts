import { DispatchError } from "./errors.ts";

/** Refuses keys an options object does not know, naming the first stray one: typos must not pass silently. */
export function assertKnownKeys(value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new DispatchError(
        "invalid_option",
        `Unknown option "${key}" in ${where}; expected one of: ${known.join(", ")}.`,
        { field: key },
      );
    }
  }
}

/** Asserts an optional whole number within bounds and returns it (or the fallback when absent). */
export function wholeNumber(value: unknown, name: string, min: number, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new DispatchError(
      "invalid_option",
      `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value) ?? String(value)}.`,
      { field: name },
    );
  }
  return value;
}

/** Asserts that an options argument is a plain object (or absent). */
export function optionsObject<T extends object>(value: T | undefined, where: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new DispatchError("invalid_option", `${where} takes an options object, got ${value === null ? "null" : typeof value}.`);
  }
  return value;
}

/** Asserts an optional logger has the four methods pg-dispatch calls. */
export function assertLogger(logger: unknown): void {
  if (logger === undefined) return;
  const l = logger as Record<string, unknown> | null;
  if (!["debug", "info", "warn", "error"].every((m) => typeof l?.[m] === "function")) {
    throw new DispatchError("invalid_option", "logger must have debug, info, warn and error methods.", { field: "logger" });
  }
}
