import { type Destination, type Handler, isDestinationName, MAX_DESTINATION_NAME } from "./destination.ts";
import { DispatchError } from "./errors.ts";
import { assertKnownKeys } from "./options.ts";

/** Options for `register`. */
export interface RegisterOptions {
  /** The destination's stable name; defaults to the function's name (handlers) or the destination's own name. */
  name?: string | undefined;
  /**
   * Handlers only: run each attempt in a database transaction, `ctx.tx`, that also marks the delivery delivered,
   * so the handler's writes to this database take effect exactly once. Keep such a handler to database work.
   */
  transactional?: boolean | undefined;
  /**
   * The most attempts per second at this destination across every worker (a shared token bucket in the database).
   * Deliveries over the limit wait briefly, then are put off without using an attempt. Default: no limit.
   */
  rateLimit?: number | undefined;
}

/** A type to match: an exact type (`user.created`), a prefix (`order.*`) or everything (`*`). */
export type TypePattern = string;

interface Entry {
  destination: Destination;
  /** The function or destination object the user registered, to tell "same thing again" from a name clash. */
  target: Handler | Destination;
  patterns: Set<TypePattern>;
}

/**
 * Which destinations receive which event types. A destination registered twice under the same name (like Django
 * Dispatch's stacked decorators) gains the new types; a different destination under a taken name is an error.
 */
export class Registry {
  #entries = new Map<string, Entry>();
  /** Matches by event type. Bounded: types come from producers, and one entry per distinct type would grow forever. */
  #cache = new Map<string, Destination[]>();

  /** Adds a destination for some types (undefined: every type). Returns the destination. */
  add(types: TypePattern | TypePattern[] | undefined, target: Handler | Destination, options: RegisterOptions = {}): Destination {
    assertKnownKeys(options, ["name", "transactional", "rateLimit"], "register options");
    const rate = options.rateLimit;
    if (rate !== undefined && (typeof rate !== "number" || !Number.isFinite(rate) || rate <= 0 || rate > 1_000_000)) {
      throw new DispatchError("invalid_option", "rateLimit must be a number of attempts per second, above 0 and at most 1000000.", { field: "rateLimit" });
    }
    if (options.transactional !== undefined && typeof options.transactional !== "boolean") {
      throw new DispatchError("invalid_option", "transactional must be true or false.", { field: "transactional" });
    }
    if (options.transactional && typeof target !== "function") {
      throw new DispatchError("invalid_option", "transactional is for handler functions: a webhook or Pub/Sub destination cannot join a database transaction.", { field: "transactional" });
    }
    const patterns = types === undefined ? ["*"] : (Array.isArray(types) ? types : [types]).map(checkPattern);
    if (patterns.length === 0) {
      throw new DispatchError("invalid_option", "register needs at least one event type, or none at all for every type.");
    }
    const name = options.name ?? nameOf(target, patterns);
    if (!isDestinationName(name)) {
      throw new DispatchError(
        "invalid_option",
        `A destination name must be well-formed text of 1 to ${MAX_DESTINATION_NAME} bytes (UTF-8) without NUL; it keys each event's delivery state.`,
      );
    }
    const existing = this.#entries.get(name);
    if (existing && existing.target !== target) {
      throw new DispatchError(
        "duplicate_destination",
        `A different destination is already registered as "${name}"; pass a distinct { name } to register, since the name keys each event's delivery state.`,
      );
    }
    const entry = existing ?? { destination: toDestination(target, name, options.transactional === true, rate), target, patterns: new Set() };
    for (const p of patterns) entry.patterns.add(p);
    this.#entries.set(name, entry);
    this.#cache.clear();
    return entry.destination;
  }

  /** The destinations an event type goes to, in registration order. */
  match(type: string): Destination[] {
    let found = this.#cache.get(type);
    if (!found) {
      found = [];
      for (const entry of this.#entries.values()) {
        for (const p of entry.patterns) {
          if (matches(p, type)) {
            found.push(entry.destination);
            break;
          }
        }
      }
      if (this.#cache.size >= MATCH_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(type, found);
    }
    return found;
  }

  /** How many event types have their destinations remembered (bounded by {@link MATCH_CACHE_SIZE}). */
  get cachedTypes(): number {
    return this.#cache.size;
  }

  /** Every registered destination. */
  all(): Destination[] {
    return [...this.#entries.values()].map((e) => e.destination);
  }

  /** Every destination's name with the type patterns it was registered for (the backlog metrics match on them). */
  routes(): Array<{ name: string; patterns: TypePattern[] }> {
    return [...this.#entries].map(([name, e]) => ({ name, patterns: [...e.patterns] }));
  }
}

/** The most event types whose destinations are remembered; the oldest is forgotten first. */
export const MATCH_CACHE_SIZE = 1000;

function matches(pattern: TypePattern, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

function checkPattern(pattern: unknown): TypePattern {
  if (typeof pattern !== "string" || pattern.length === 0) {
    throw new DispatchError("invalid_option", "Event types to register must be non-empty strings.");
  }
  const star = pattern.indexOf("*");
  if (star !== -1 && !(pattern === "*" || (pattern.endsWith(".*") && star === pattern.length - 1 && pattern.length > 2))) {
    throw new DispatchError(
      "invalid_option",
      `Invalid event type pattern "${pattern}": use an exact type, a prefix such as "order.*", or "*".`,
    );
  }
  return pattern;
}

/** A function's own name, else (an inline arrow) one made from its types: "handler:user.created". */
function nameOf(target: Handler | Destination, patterns: TypePattern[]): string {
  if (typeof target === "function") return target.name || `handler:${patterns.join(",")}`;
  const name = (target as Destination)?.name;
  if (typeof name !== "string" || name.length === 0) {
    throw new DispatchError("invalid_option", "A destination needs a name: a non-empty string that keys its delivery state.");
  }
  return name;
}

function toDestination(target: Handler | Destination, name: string, transactional: boolean, rateLimit: number | undefined): Destination {
  const limited = rateLimit === undefined ? {} : { rateLimit };
  if (typeof target === "function") {
    return {
      name,
      ...(transactional ? { transactional: true } : {}),
      ...limited,
      async deliver(event, ctx) {
        await target(event, ctx);
      },
    };
  }
  if (!target || typeof target !== "object" || typeof target.deliver !== "function") {
    throw new DispatchError("invalid_option", "register takes a handler function or a destination (webhook(...), pubsub(...)).");
  }
  return name === target.name && rateLimit === undefined
    ? target
    : { name, deliver: (e, c) => target.deliver(e, c), start: target.start?.bind(target), close: target.close?.bind(target), ...limited };
}
