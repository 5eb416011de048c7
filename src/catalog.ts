import type { StandardJSONSchemaV1, StandardSchemaV1 } from "@standard-schema/spec";
import type { CloudEvent } from "cloudevents";
import type { DeliveredEvent } from "./destination.ts";
import { DispatchError } from "./errors.ts";
import { ATTRIBUTE_LIMITS, type EventInput } from "./event.ts";
import { assertKnownKeys, optionsObject } from "./options.ts";
import { isStorable } from "./text.ts";

/**
 * One catalog entry with more than its schema: a hand-written JSON Schema (for validators that cannot export one),
 * its own `dataschema` URI, a description for the OpenAPI and AsyncAPI documents.
 *
 * @example
 * ```ts
 * const created: EventDefinition = { schema: v.object({ user_id: v.number() }), jsonSchema: { type: "object" }, description: "A user signed up." };
 * ```
 */
export interface EventDefinition<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** Any Standard Schema validator (Zod, Valibot, ArkType, ...). */
  schema: S;
  /** The data's JSON Schema, when the validator cannot give one itself (Zod 4 and ArkType can; Valibot cannot). */
  jsonSchema?: Record<string, unknown> | undefined;
  /** The CloudEvent `dataschema` of this type's events; defaults to the catalog's `dataschema` prefix + the type. */
  dataschema?: string | undefined;
  /** What the event means, for the API documents. */
  description?: string | undefined;
}

/** What {@link defineEvents} takes: event type to a Standard Schema, or to an {@link EventDefinition}. */
export type EventSchemas = Record<string, StandardSchemaV1 | EventDefinition>;

/** Each known event type's data: what a publisher passes (`input`) and what a handler receives (`output`). */
export type EventMap = Record<string, { input: unknown; output: unknown }>;

type SchemaOf<D> = D extends EventDefinition<infer S> ? S : D extends StandardSchemaV1 ? D : never;

/** The {@link EventMap} of a catalog's schemas. */
export type EventTypesOf<T extends EventSchemas> = {
  [K in keyof T & string]: {
    input: StandardSchemaV1.InferInput<SchemaOf<T[K]>>;
    output: StandardSchemaV1.InferOutput<SchemaOf<T[K]>>;
  };
};

type DataField<D> = undefined extends D ? { data?: D } : { data: D };
/** True for `any`: an Outbox written without type arguments (or built without a catalog) is untyped. */
type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * What `publishEvent` takes on an outbox with a catalog: for a known type, `data` is the schema's input type; any
 * other type is an {@link EventInput} with untyped data.
 */
export type TypedEventInput<E extends EventMap, K extends string> = IsAny<E> extends true ? EventInput : K extends keyof E
  ? Omit<EventInput, "type" | "data"> & { type: K } & DataField<E[K]["input"]>
  : EventInput;

/** An event as a handler of a catalogued type receives it: `data` is the schema's output (after a JSON round trip). */
export type TypedEvent<K extends string, D> = CloudEvent<D> & { type: K; data: D };

/** The event a handler registered for `K` receives: typed for a catalogued type, a plain {@link DeliveredEvent} otherwise. */
export type EventFor<E extends EventMap, K extends string> = IsAny<E> extends true ? DeliveredEvent
  : K extends keyof E ? TypedEvent<K, E[K]["output"]>
  : DeliveredEvent;

/** Options of {@link defineEvents}. */
export interface CatalogOptions {
  /**
   * The start of each type's CloudEvent `dataschema` URI: the type is appended, percent-encoded. Default
   * `urn:pg-dispatch:event:`. A publisher's own `dataschema` wins; `false` leaves it unset.
   */
  dataschema?: string | false | undefined;
}

/** Options of {@link EventCatalog.asyncApi}. */
export interface AsyncApiOptions {
  /** The document's title. Default "Events". */
  title?: string | undefined;
  /** The API's version. Default "1.0.0". */
  version?: string | undefined;
  /** A description of the service that emits the events. */
  description?: string | undefined;
}

interface Entry {
  schema: StandardSchemaV1;
  jsonSchema: Record<string, unknown> | undefined;
  dataschema: string | undefined;
  description: string | undefined;
}

/** The longest list of issues an `invalid_data` message names; the rest are counted. */
const MAX_ISSUES = 3;

/**
 * The event types a service emits, each with the schema its data must match. Built by {@link defineEvents}, passed
 * to `new Outbox({ sql, events })`.
 *
 * @example
 * ```ts
 * const catalog = defineEvents({ "user.created": z.object({ user_id: z.number() }) });
 * catalog.types(); // ["user.created"]
 * ```
 */
export class EventCatalog<E extends EventMap = EventMap> {
  /** Carries the data types for inference; never set at run time. */
  declare readonly "~events"?: E;
  readonly #entries: Map<string, Entry>;

  constructor(schemas: EventSchemas, options?: CatalogOptions) {
    if (schemas === null || typeof schemas !== "object" || Array.isArray(schemas)) {
      throw new DispatchError("invalid_option", "defineEvents takes an object of event type to schema: { \"user.created\": z.object({ ... }) }.");
    }
    const o = optionsObject(options, "defineEvents");
    assertKnownKeys(o, ["dataschema"], "defineEvents options");
    const prefix = o.dataschema === undefined ? "urn:pg-dispatch:event:" : o.dataschema;
    if (prefix !== false && (typeof prefix !== "string" || !isStorable(prefix))) {
      throw new DispatchError("invalid_option", "dataschema must be a URI prefix (a string) or false.", { field: "dataschema" });
    }
    this.#entries = new Map();
    for (const [type, value] of Object.entries(schemas)) {
      if (type.length === 0 || type.includes("*") || !isStorable(type) || type.length > ATTRIBUTE_LIMITS.type) {
        throw new DispatchError("invalid_option", `"${type}" cannot be a catalog's event type: use an exact type such as "user.created" (no "*").`, { field: type });
      }
      this.#entries.set(type, entry(type, value, prefix));
    }
  }

  /** The catalogued event types, in definition order. */
  types(): string[] {
    return [...this.#entries.keys()];
  }

  /** Whether `type` is in the catalog. */
  has(type: string): boolean {
    return this.#entries.has(type);
  }

  /** The `dataschema` URI of a type's events, if the catalog gives one. */
  dataschema(type: string): string | undefined {
    return this.#entries.get(type)?.dataschema;
  }

  /** A type's description, if it has one. */
  description(type: string): string | undefined {
    return this.#entries.get(type)?.description;
  }

  /**
   * Validates data against its type's schema. Resolves to the schema's output (defaults and transforms applied);
   * rejects with a DispatchError `invalid_data` naming each wrong path (`data.user_id: ...`). Unknown types pass as they are.
   *
   * @example
   * ```ts
   * const data = await catalog.validate("user.created", { user_id: 1 });
   * ```
   */
  async validate(type: string, data: unknown): Promise<unknown> {
    const found = this.#entries.get(type);
    if (!found) return data;
    const result = await found.schema["~standard"].validate(data);
    if (result.issues) throw invalidData(type, result.issues);
    return result.value;
  }

  /**
   * The JSON Schema of a type's data: the definition's `jsonSchema`, else the validator's own (Standard JSON Schema,
   * as Zod 4 and ArkType have), else undefined. `io` picks the input (what publishers send) or output (what
   * consumers receive) side.
   *
   * @example
   * ```ts
   * const schema = catalog.jsonSchema("user.created"); // { type: "object", properties: { user_id: ... } }
   * ```
   */
  jsonSchema(type: string, io: "input" | "output" = "output", target: StandardJSONSchemaV1.Target = "draft-2020-12"): Record<string, unknown> | undefined {
    const found = this.#entries.get(type);
    if (!found) return undefined;
    if (found.jsonSchema) return found.jsonSchema;
    const converter = (found.schema["~standard"] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
    try {
      // A validator may refuse to convert some schemas (a transform, a Date); the document then says "any JSON".
      const { $schema: _, ...schema } = converter?.[io]?.({ target }) ?? {};
      return converter ? schema : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The catalog as an AsyncAPI 3.0 document: one channel per event type (its address is the type), each with one
   * message whose payload is the data's JSON Schema and whose headers are the CloudEvent attributes.
   *
   * @example
   * ```ts
   * const doc = catalog.asyncApi({ title: "User service events", version: "2.1.0" });
   * ```
   */
  asyncApi(options?: AsyncApiOptions): Record<string, unknown> {
    const o = optionsObject(options, "asyncApi");
    assertKnownKeys(o, ["title", "version", "description"], "asyncApi options");
    const channels: Record<string, unknown> = {};
    const operations: Record<string, unknown> = {};
    const messages: Record<string, unknown> = {};
    for (const type of this.types()) {
      const id = componentName(type);
      const description = this.description(type);
      messages[id] = {
        name: type,
        title: type,
        ...(description ? { summary: description } : {}),
        contentType: "application/json",
        headers: cloudEventHeaders(type, this.dataschema(type)),
        payload: this.jsonSchema(type, "output", "draft-07") ?? { description: "Any JSON value: the validator gives no JSON Schema; pass `jsonSchema` in the catalog entry." },
      };
      channels[id] = { address: type, messages: { [id]: { $ref: `#/components/messages/${id}` } } };
      operations[`send.${id}`] = {
        action: "send",
        channel: { $ref: `#/channels/${id}` },
        messages: [{ $ref: `#/channels/${id}/messages/${id}` }],
      };
    }
    return {
      asyncapi: "3.0.0",
      info: {
        title: o.title ?? "Events",
        version: o.version ?? "1.0.0",
        ...(o.description ? { description: o.description } : {}),
      },
      defaultContentType: "application/json",
      channels,
      operations,
      components: { messages },
    };
  }
}

/**
 * Declares the event types a service emits, each with a Standard Schema validator for its data (Zod, Valibot,
 * ArkType, ...). Pass the catalog to `new Outbox({ sql, events })`: `publishEvent` and `register` then know each
 * type's data, publishing validates it, and `dataschema` is filled in.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineEvents, Outbox } from "pg-dispatch";
 *
 * const events = defineEvents({
 *   "user.created": z.object({ user_id: z.number() }),
 *   "user.deleted": { schema: z.object({ user_id: z.number() }), description: "A user closed their account." },
 * });
 * const outbox = new Outbox({ sql, events });
 * await outbox.publishEvent({ type: "user.created", source: "users", data: { user_id: 1 } });
 * outbox.register("user.created", (event) => sendWelcome(event.data.user_id));
 * ```
 */
export function defineEvents<const T extends EventSchemas>(schemas: T, options?: CatalogOptions): EventCatalog<EventTypesOf<T>> {
  return new EventCatalog<EventTypesOf<T>>(schemas, options);
}

/**
 * Checks an event input's data against the catalog before it is turned into a row: the data becomes the schema's
 * output, and `dataschema` is filled in unless the publisher set one. Inputs of unknown types, and inputs that are
 * not objects (the event checks refuse them next), pass unchanged.
 */
export async function checkInput<T extends EventInput, M extends EventMap>(catalog: EventCatalog<M> | undefined, input: T): Promise<T> {
  if (!catalog || input === null || typeof input !== "object" || typeof input.type !== "string" || !catalog.has(input.type)) return input;
  const data = await catalog.validate(input.type, input.data);
  const dataschema = input.dataschema ?? catalog.dataschema(input.type);
  return { ...input, data, ...(dataschema === undefined ? {} : { dataschema }) };
}

function entry(type: string, value: unknown, prefix: string | false): Entry {
  const definition = isStandardSchema(value) ? { schema: value } : value as EventDefinition;
  if (definition === null || typeof definition !== "object" || !isStandardSchema(definition.schema)) {
    throw new DispatchError(
      "invalid_option",
      `The catalog entry "${type}" must be a Standard Schema (a Zod, Valibot or ArkType schema) or { schema, jsonSchema?, dataschema?, description? }.`,
      { field: type },
    );
  }
  if (!isStandardSchema(value)) assertKnownKeys(definition, ["schema", "jsonSchema", "dataschema", "description"], `the catalog entry "${type}"`);
  const { jsonSchema, dataschema, description } = definition;
  if (jsonSchema !== undefined && (jsonSchema === null || typeof jsonSchema !== "object" || Array.isArray(jsonSchema))) {
    throw new DispatchError("invalid_option", `The catalog entry "${type}": jsonSchema must be a JSON Schema object.`, { field: `${type}.jsonSchema` });
  }
  for (const [field, text] of [["dataschema", dataschema], ["description", description]] as const) {
    if (text !== undefined && (typeof text !== "string" || text.length === 0 || !isStorable(text))) {
      throw new DispatchError("invalid_option", `The catalog entry "${type}": ${field} must be non-empty text.`, { field: `${type}.${field}` });
    }
  }
  return {
    schema: definition.schema,
    jsonSchema,
    dataschema: dataschema ?? (prefix === false ? undefined : `${prefix}${encodeURIComponent(type)}`),
    description,
  };
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as StandardSchemaV1 | null)?.["~standard"];
  return typeof standard === "object" && standard !== null && standard.version === 1 && typeof standard.validate === "function";
}

/** "data.items[2].name: Expected string" for each issue (the first few), as one DispatchError. */
function invalidData(type: string, issues: ReadonlyArray<StandardSchemaV1.Issue>): DispatchError {
  const paths = issues.map((issue) => pathOf(issue.path));
  const listed = issues.slice(0, MAX_ISSUES).map((issue, i) => `${paths[i]}: ${issue.message}`).join("; ");
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : "";
  return new DispatchError(
    "invalid_data",
    `Invalid data for "${type}": ${listed}${more}. Publish data that matches the schema the event catalog declares for "${type}".`,
    { field: paths[0] ?? "data" },
  );
}

function pathOf(path: StandardSchemaV1.Issue["path"]): string {
  let out = "data";
  for (const segment of path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    out += typeof key === "number" ? `[${key}]` : `.${String(key)}`;
  }
  return out;
}

/** A name OpenAPI and AsyncAPI accept as a component key (`^[a-zA-Z0-9.\-_]+$`). */
export function componentName(type: string): string {
  return type.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** The CloudEvent attributes a delivered event carries, as the message headers' JSON Schema. */
function cloudEventHeaders(type: string, dataschema: string | undefined): Record<string, unknown> {
  return {
    type: "object",
    required: ["specversion", "id", "source", "type"],
    properties: {
      specversion: { const: "1.0" },
      id: { type: "string", description: "Unique per source; the same on every delivery attempt." },
      source: { type: "string" },
      type: { const: type },
      subject: { type: "string" },
      time: { type: "string", format: "date-time" },
      ...(dataschema ? { dataschema: { const: dataschema } } : {}),
    },
  };
}
