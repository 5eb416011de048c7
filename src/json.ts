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

/**
 * The UTF-8 size of a string, counted only when the cheap bound (3 bytes per UTF-16 unit) says it might matter, and
 * then from the code units, without encoding (a lone surrogate counts 3, as the U+FFFD it would be encoded as).
 */
export function utf8Length(text: string, limit: number): number {
  const n = text.length;
  if (n * 3 <= limit) return n;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // 4 bytes for the pair's 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
