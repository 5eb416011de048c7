/**
 * The W3C Trace Context `traceparent` header, read and written without OpenTelemetry: the stored context of an event
 * must reach its destinations (and parent the attempt spans) whatever propagator, if any, the application set up.
 */

/** The parts of a `traceparent` value. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** The trace flags byte (1 = sampled). */
  traceFlags: number;
}

/** The common case, version 00: tested without captures, then cut at fixed offsets (no match array per event). */
const VERSION_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/**
 * Reads a `traceparent` value; null when it is not one (wrong shape, version ff, all-zero ids).
 *
 * @example
 * ```ts
 * parseTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.traceId; // "4bf92f35..."
 * ```
 */
export function parseTraceParent(value: unknown): TraceParent | null {
  if (typeof value !== "string") return null;
  if (VERSION_00.test(value)) {
    const traceId = value.slice(3, 35);
    const spanId = value.slice(36, 52);
    if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
    return { traceId, spanId, traceFlags: parseInt(value.slice(53, 55), 16) };
  }
  const m = TRACEPARENT.exec(value);
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  // Version 00 has exactly four fields; a later version may append more, which this reader ignores.
  if (version === "ff" || (version === "00" && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return null;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/**
 * Writes a version-00 `traceparent` value.
 *
 * @example
 * ```ts
 * formatTraceParent({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 });
 * // "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
 * ```
 */
export function formatTraceParent(p: TraceParent): string {
  return `00-${p.traceId}-${p.spanId}-${(p.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}
