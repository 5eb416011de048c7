import { DispatchError } from "./errors.ts";
import { isStorable, storable } from "./text.ts";

/**
 * Serialises event data, refusing what JSON would silently change or drop: functions, symbols, bigints, NaN and
 * Infinity, class instances without `toJSON` (Map, Set, ...), cycles. Returns the JSON text, or undefined for no data.
 */
export function dataToJson(data: unknown): string | undefined {
  if (data === undefined) return undefined;
  check(data, "data", new Set(), 0);
  return JSON.stringify(data);
}

/** The deepest nesting of objects and arrays event data may have (PostgreSQL and every consumer parse it recursively). */
export const MAX_DATA_DEPTH = 256;

function check(value: unknown, path: string, seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case "string":
      if (!isStorable(value)) return refuse(path, "contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored");
      return;
    case "boolean":
      return;
    case "number":
      if (Number.isFinite(value)) return;
      return refuse(path, `is ${value}, which JSON cannot represent`);
    case "object": {
      if (value === null) return;
      if (depth >= MAX_DATA_DEPTH) return refuse(path, `is nested deeper than ${MAX_DATA_DEPTH} levels`);
      if (seen.has(value)) return refuse(path, "refers back to itself (a cycle)");
      if (Array.isArray(value)) {
        seen.add(value);
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) refuse(`${path}[${i}]`, "is undefined; use null");
          check(value[i], `${path}[${i}]`, seen, depth + 1);
        }
        seen.delete(value);
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        // Date and friends say how they serialise.
        if (typeof (value as { toJSON?: unknown }).toJSON === "function") return;
        return refuse(path, `is a ${proto?.constructor?.name ?? "non-plain object"}; pass plain objects, arrays and primitives`);
      }
      seen.add(value);
      for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (!isStorable(key)) refuse(path, "has a key with a NUL character or an unpaired UTF-16 surrogate, which cannot be stored");
        if (v !== undefined) check(v, `${path}.${key}`, seen, depth + 1);
      }
      seen.delete(value);
      return;
    }
    default:
      return refuse(path, `is a ${typeof value}, which is not JSON`);
  }
}

function refuse(path: string, what: string): never {
  // The path is made of the producer's keys: keep it printable and short.
  const field = storable(path, 200);
  throw new DispatchError("invalid_data", `Event ${field} ${what}. Event data must be JSON-serialisable.`, { field });
}

/** The UTF-8 size of a string, computed only when the cheap bound says it might matter. */
export function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  return new TextEncoder().encode(text).length;
}
