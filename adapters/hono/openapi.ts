import { SPECVERSION } from "../../src/attributes.ts";
import { componentName, type EventCatalog } from "../../src/catalog.ts";
import { MAX_DESTINATION_NAME } from "../../src/destination.ts";
import { ATTRIBUTE_LIMITS } from "../../src/event.ts";
import { ATTEMPT_OUTCOMES, DELIVERY_STATUSES, EVENT_STATUSES, FINISHED_STATUSES } from "../../src/record.ts";
import { MAX_RETRIES } from "../../src/retry.ts";
import { PAGE_DATA_BYTES, PAGE_LIMIT } from "../../src/store/events.ts";
import { HISTORY_LIMIT } from "../../src/store/history.ts";
import { EXACT_COUNT } from "../../src/store/stats.ts";

/** Options of {@link openApiDocument}. */
export interface OpenApiOptions {
  /** Where the router is mounted, e.g. `/outbox`; becomes the document's server URL. */
  basePath: string;
  /** Whether publish routes need a bearer token (false when auth is `false`). */
  securePublish: boolean;
  /** Whether read routes need a bearer token. */
  secureRead: boolean;
  /** The outbox's event catalog: each type's data schema goes in `components.schemas`, each type in `webhooks`. */
  catalog?: EventCatalog | undefined;
  /** The router's body limit in bytes, stated in the 413 answers. */
  maxBodyBytes: number;
  /** The router's batch limit, each batch body's `maxItems`. */
  maxBatchEvents: number;
}

type Json = Record<string, unknown>;

function ref(name: string): Json {
  return { $ref: `#/components/schemas/${name}` };
}

function json(schema: Json, description: string): Json {
  return { description, content: { "application/json": { schema } } };
}

function error(description: string): Json {
  return json(ref("Error"), description);
}

function query(name: string, description: string, schema: Json = { type: "string" }): Json {
  return { name, in: "query", required: false, description, schema };
}

/** A string attribute with its limit from the core; the limit counts UTF-8 bytes, so maxLength is its upper bound. */
function bounded(attribute: Exclude<keyof typeof ATTRIBUTE_LIMITS, "extension">, minLength = 0): Json {
  const limit = ATTRIBUTE_LIMITS[attribute];
  return { type: "string", ...(minLength ? { minLength } : {}), maxLength: limit, description: `At most ${limit} bytes of UTF-8.` };
}

function nullable(type: string, extra: Json = {}): Json {
  return { type: [type, "null"], ...extra };
}

const idParam: Json = { name: "id", in: "path", required: true, description: "The event id (the CloudEvent `id`).", schema: { type: "string" } };
const nameParam: Json = { name: "name", in: "path", required: true, description: "The destination's name.", schema: { type: "string" } };
const sourceParam = query("source", "Narrows the id to one source, when several sources used the same id.");

const schemas: Record<string, Json> = {
  Error: {
    type: "object",
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", examples: ["invalid_event", "payload_too_large", "not_found", "unauthorized"] },
          message: { type: "string", description: "What was wrong and how to fix it." },
          field: { type: "string", description: "The field, query parameter or header at fault." },
        },
      },
    },
  },
  Delivery: {
    type: "object",
    required: ["name", "status", "attempts", "lastError", "nextAttemptAt", "deliveredAt"],
    properties: {
      name: { type: "string" },
      status: { enum: [...DELIVERY_STATUSES] },
      attempts: { type: "integer" },
      lastError: nullable("string"),
      nextAttemptAt: nullable("string", { format: "date-time" }),
      deliveredAt: nullable("string", { format: "date-time" }),
    },
  },
  Attempt: {
    type: "object",
    description: "One attempt at one destination.",
    required: ["destination", "attempt", "startedAt", "durationMs", "outcome"],
    properties: {
      destination: { type: "string" },
      attempt: { type: "integer", minimum: 1, description: "1 for the first attempt at this destination." },
      startedAt: { type: "string", format: "date-time" },
      durationMs: { type: "integer", minimum: 0 },
      outcome: { enum: [...ATTEMPT_OUTCOMES], description: "`retry`: another attempt was scheduled; `failed`: for good." },
      status: { type: "integer", description: "The destination's status code, when it has one (a webhook's HTTP status)." },
      error: { type: "string", description: "Why the attempt failed." },
    },
  },
  Event: {
    type: "object",
    description: "A stored event with its status and per-destination deliveries.",
    required: [
      "id", "type", "source", "specversion", "subject", "time", "datacontenttype", "dataschema", "extensions", "status",
      "attempts", "maxRetries", "lastError", "orderingKey", "scheduledAt", "createdAt", "publishedAt", "deliveries",
    ],
    properties: {
      id: { type: "string" },
      type: { type: "string" },
      source: { type: "string" },
      specversion: { const: SPECVERSION },
      subject: nullable("string"),
      time: nullable("string", { format: "date-time" }),
      datacontenttype: nullable("string"),
      dataschema: nullable("string"),
      extensions: { type: "object", additionalProperties: { type: ["string", "integer", "boolean"] } },
      data: { description: "The event data (any JSON value); absent when the event has none." },
      status: { enum: [...EVENT_STATUSES] },
      attempts: { type: "integer" },
      maxRetries: nullable("integer"),
      lastError: nullable("string"),
      orderingKey: nullable("string"),
      scheduledAt: nullable("string", { format: "date-time" }),
      createdAt: { type: "string", format: "date-time" },
      publishedAt: nullable("string", { format: "date-time" }),
      deliveries: { type: "array", items: ref("Delivery") },
      history: {
        type: "array",
        items: ref("Attempt"),
        description: `Every attempt at every destination, oldest first (the newest ${HISTORY_LIMIT}); only with \`?history=true\`.`,
      },
    },
  },
  PublishedEvent: {
    description: "What `POST /events` answers per event: the stored event, and whether it was stored before.",
    allOf: [
      ref("Event"),
      {
        type: "object",
        required: ["duplicate"],
        properties: {
          duplicate: { type: "boolean", description: "True when this source + id was already stored; nothing new was written." },
        },
      },
    ],
  },
  BatchResult: {
    type: "object",
    description: "What `POST /events` answers for a batch: one entry per event, in request order (not the full records).",
    required: ["events"],
    properties: {
      events: {
        type: "array",
        items: {
          type: "object",
          required: ["index", "id", "source", "duplicate"],
          properties: {
            index: { type: "integer", minimum: 0, description: "The event's position in the request." },
            id: { type: "string" },
            source: { type: "string" },
            duplicate: { type: "boolean", description: "True when this source + id was already stored; nothing new was written." },
          },
        },
      },
    },
  },
  EventList: {
    type: "object",
    required: ["events", "nextCursor"],
    description: `One page, newest first. A page ends at \`limit\` events, or earlier, before the event that would take its data past ${PAGE_DATA_BYTES} bytes (a page always holds at least one event); \`nextCursor\` continues from there.`,
    properties: {
      events: { type: "array", items: ref("Event") },
      nextCursor: nullable("string", { description: "Pass as `cursor` for the next page; null on the last one." }),
    },
  },
  NewEvent: {
    type: "object",
    required: ["type", "source"],
    additionalProperties: false,
    properties: {
      type: bounded("type", 1),
      source: bounded("source", 1),
      data: { description: "Any JSON value." },
      id: { ...bounded("id", 1), description: "Defaults to a new UUID (version 7); publishing the same source + id again stores nothing new." },
      subject: bounded("subject"),
      time: { type: "string", format: "date-time" },
      datacontenttype: bounded("datacontenttype"),
      dataschema: bounded("dataschema"),
      extensions: { type: "object", additionalProperties: { type: ["string", "integer", "boolean"] } },
      scheduledAt: { type: "string", format: "date-time", description: "Nothing is delivered before this time." },
      maxRetries: { type: "integer", minimum: 0, maximum: MAX_RETRIES },
      orderingKey: bounded("orderingKey", 1),
    },
  },
  CloudEvent: {
    type: "object",
    description: "A CloudEvent in the JSON format; attributes other than the core ones are extensions.",
    required: ["specversion", "id", "source", "type"],
    properties: {
      specversion: { const: SPECVERSION },
      id: bounded("id", 1),
      source: bounded("source", 1),
      type: bounded("type", 1),
      subject: bounded("subject"),
      time: { type: "string", format: "date-time" },
      datacontenttype: bounded("datacontenttype"),
      dataschema: bounded("dataschema"),
      data: { description: "Any JSON value (data_base64 is refused)." },
    },
    additionalProperties: { type: ["string", "integer", "boolean"] },
  },
  Filter: {
    type: "object",
    description: "Which events: every field narrows; none means every event. Times are ISO 8601; `from` is inclusive, `to` exclusive (when the event was stored). Other fields are refused.",
    properties: {
      status: { enum: [...EVENT_STATUSES] },
      type: { type: "string", minLength: 1, description: "One type, or a prefix written `order.*`." },
      source: { type: "string", minLength: 1 },
      from: { type: "string", format: "date-time" },
      to: { type: "string", format: "date-time" },
      id: { type: "string", minLength: 1 },
      dryRun: { type: "boolean", default: false, description: "Only count; change nothing." },
    },
  },
  Count: {
    type: "object",
    required: ["dryRun", "events"],
    properties: {
      dryRun: { type: "boolean" },
      events: { type: "integer", description: "How many events became due (with dryRun, would)." },
      destination: { type: "string", description: "The destination replayed to (replay only)." },
    },
  },
  PausedDestinations: {
    type: "object",
    required: ["paused"],
    properties: {
      paused: {
        type: "array",
        items: { type: "object", required: ["name", "pausedAt"], properties: { name: { type: "string" }, pausedAt: { type: "string", format: "date-time" } } },
      },
    },
  },
  Stats: {
    type: "object",
    required: ["pending", "processing", "published", "failed", "oldestDueAgeMs", "estimated"],
    properties: {
      pending: { type: "integer" },
      processing: { type: "integer" },
      published: { type: "integer" },
      failed: { type: "integer" },
      oldestDueAgeMs: { type: "integer", description: "How long the oldest due event has waited; a growing figure means the workers cannot keep up." },
      estimated: {
        type: "boolean",
        description: `True when a status passed ${EXACT_COUNT} events and its count is PostgreSQL's estimate; every count is exact otherwise.`,
      },
    },
  },
};

/**
 * The OpenAPI 3.1 description of the router's routes, served at `GET /openapi.json`.
 *
 * @example
 * ```ts
 * const doc = openApiDocument({ basePath: "/outbox", securePublish: true, secureRead: true });
 * ```
 */
export function openApiDocument(options: OpenApiOptions): Json {
  const security = (secure: boolean): Json => (secure ? { security: [{ bearer: [] }] } : { security: [] });
  const unauthorized = (secure: boolean): Json => (secure ? { 401: error("Missing or wrong bearer token.") } : {});
  const read = (op: Json): Json => ({ ...op, ...security(options.secureRead), responses: { ...(op.responses as Json), ...unauthorized(options.secureRead) } });
  const write = (op: Json): Json => ({ ...op, ...security(options.securePublish), responses: { ...(op.responses as Json), ...unauthorized(options.securePublish) } });
  const one = json(ref("Event"), "The stored event.");
  const published = json(
    { oneOf: [ref("PublishedEvent"), ref("BatchResult")] },
    "The stored event, or for a batch `{ events: [{ index, id, source, duplicate }] }` in request order.",
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "pg-dispatch outbox",
      version: "1",
      description: "Publish events to a PostgreSQL transactional outbox and follow their delivery. Errors are `{ error: { code, message, field? } }`.",
    },
    servers: [{ url: options.basePath || "/" }],
    components: { schemas: { ...schemas, ...catalogSchemas(options.catalog) }, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    ...(options.catalog?.types().length ? { webhooks: catalogWebhooks(options.catalog) } : {}),
    paths: {
      "/events": {
        post: write({
          operationId: "publishEvent",
          summary: "Publish an event, a CloudEvent (structured or binary mode), or a batch in one transaction.",
          description: "Binary mode: CloudEvent attributes in percent-encoded `ce-*` headers, the JSON data as the body. A repeated source + id answers 200 with the event already stored.",
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { oneOf: [ref("NewEvent"), { type: "array", items: ref("NewEvent"), maxItems: options.maxBatchEvents }] } },
              "application/cloudevents+json": { schema: ref("CloudEvent") },
              "application/cloudevents-batch+json": { schema: { type: "array", items: ref("CloudEvent"), maxItems: options.maxBatchEvents } },
            },
          },
          responses: {
            201: {
              ...published,
              description: "Stored (in a batch, at least one event was new); `Location` points at the event (a batch answers `{ events }`).",
              headers: { Location: { schema: { type: "string" } } },
            },
            200: { ...published, description: "Every event was already stored under its source + id: the stored events, `duplicate: true`." },
            400: error("The body is not JSON, or not an event object."),
            413: error(`The body is over ${options.maxBodyBytes} bytes, the event data over the outbox's maxPayloadBytes, or a batch holds more than ${options.maxBatchEvents} events.`),
            415: error("An unsupported content type, or non-JSON data in binary mode."),
            422: error("An invalid event attribute or option, or data that does not match its type's schema in the event catalog (`invalid_data`, see `webhooks`); `field` names it."),
          },
        }),
        get: read({
          operationId: "listEvents",
          summary: "List events, newest first, a page at a time.",
          parameters: [
            query("status", "Only events with this status.", { enum: [...EVENT_STATUSES] }),
            query("type", "Only events of this type; a type ending in `*` is a prefix, as registrations write it (`order.*`)."),
            query("source", "Only events from this source."),
            query("limit", `Page size, 1 to ${PAGE_LIMIT.max}.`, { type: "integer", minimum: 1, maximum: PAGE_LIMIT.max, default: PAGE_LIMIT.default }),
            query("cursor", "The `nextCursor` of the previous page."),
            query("data", "`false` to leave each event's `data` out: a summary list.", { type: "boolean", default: true }),
          ],
          responses: { 200: json(ref("EventList"), "One page of events."), 400: error("A bad filter, limit or cursor.") },
        }),
      },
      "/events/{id}": {
        get: read({
          operationId: "getEvent",
          summary: "An event with its status and per-destination deliveries.",
          parameters: [idParam, sourceParam, query("history", "`true` to add the attempt history: `history: [{ destination, attempt, startedAt, durationMs, outcome, status?, error? }]`.", { type: "boolean", default: false })],
          responses: { 200: one, 400: error("An unknown or repeated query parameter, or a history that is not true or false."), 404: error("No such event."), 409: error("Several sources used this id; pass `source`.") },
        }),
      },
      "/events/{id}/retry": {
        post: write({
          operationId: "retryEvent",
          summary: "Make the event's failed deliveries due now, with a fresh retry budget.",
          parameters: [idParam, sourceParam],
          responses: { 200: json(ref("Event"), "The event after the retry (unchanged when nothing had failed)."), 404: error("No such event."), 409: error("Several sources used this id; pass `source`.") },
        }),
      },
      "/retry": {
        post: write({
          operationId: "retryEvents",
          summary: "Make every failed delivery of the matching failed events due now, with a fresh retry budget, in short batches.",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { allOf: [ref("Filter"), { properties: {
              status: { const: "failed" },
              destination: { type: "string", description: "Only the failed deliveries to this destination." },
              error: { type: "string", description: "Only failed deliveries whose last error is exactly this text." },
            } }] } } },
          },
          responses: { 200: json(ref("Count"), "How many events became due, or would."), 400: error("An unknown field, a bad time or a status other than failed."), 415: error("A body that is not application/json.") },
        }),
      },
      "/replay": {
        post: write({
          operationId: "replayEvents",
          summary: "Send the matching finished events to one destination again, or for the first time (a backfill); the other destinations keep their state.",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { allOf: [ref("Filter"), {
              required: ["destination"],
              properties: { status: { enum: [...FINISHED_STATUSES] }, destination: { type: "string", minLength: 1, maxLength: MAX_DESTINATION_NAME, description: "The one destination to send the events to." } },
            }] } } },
          },
          responses: { 200: json(ref("Count"), "How many events became due, or would."), 400: error("No destination, an unknown field, a bad time or an unfinished status."), 415: error("A body that is not application/json.") },
        }),
      },
      "/destinations/{name}/pause": {
        post: write({
          operationId: "pauseDestination",
          summary: "Pause a destination for every worker: events wait for it; nothing is attempted and no retry is used up.",
          parameters: [nameParam],
          responses: { 200: json({ type: "object", required: ["destination", "paused", "pausedAt"], properties: { destination: { type: "string" }, paused: { const: true }, pausedAt: nullable("string", { format: "date-time" }) } }, "Paused (a second pause keeps the first time)."), 400: error(`A name that is not 1 to ${MAX_DESTINATION_NAME} bytes of text.`) },
        }),
      },
      "/destinations/{name}/resume": {
        post: write({
          operationId: "resumeDestination",
          summary: "Resume a paused destination: what waited for it is due now.",
          parameters: [nameParam],
          responses: { 200: json({ type: "object", required: ["destination", "resumed"], properties: { destination: { type: "string" }, resumed: { type: "boolean", description: "False when it was not paused." } } }, "Resumed."), 400: error(`A name that is not 1 to ${MAX_DESTINATION_NAME} bytes of text.`) },
        }),
      },
      "/destinations/paused": {
        get: read({ operationId: "pausedDestinations", summary: "The paused destinations and when each was paused.", responses: { 200: json(ref("PausedDestinations"), "The paused destinations, by name.") } }),
      },
      "/stats": {
        get: read({ operationId: "stats", summary: "Event counts by status and the age of the oldest due event.", responses: { 200: json(ref("Stats"), "The figures.") } }),
      },
      "/health": {
        get: read({
          operationId: "health",
          summary: "Whether the database answers.",
          responses: {
            200: json({ type: "object", required: ["status"], properties: { status: { const: "ok" } } }, "The database answered."),
            503: json(
              { allOf: [ref("Error"), { type: "object", required: ["status"], properties: { status: { const: "unavailable" } } }] },
              "The database did not answer.",
            ),
          },
        }),
      },
      "/metrics": {
        get: read({
          operationId: "metrics",
          summary: "This process's counters and histograms and the backlog per destination, in the Prometheus text format.",
          responses: { 200: { description: "The metrics.", content: { "text/plain": { schema: { type: "string" } } } } },
        }),
      },
      "/openapi.json": {
        get: read({ operationId: "openapi", summary: "This document.", responses: { 200: { description: "The OpenAPI document." } } }),
      },
    },
  };
}

/** The name of a catalogued type's data schema in `components.schemas`. */
function dataSchemaName(type: string): string {
  return `Data.${componentName(type)}`;
}

/**
 * Each catalogued type's data as JSON Schema: the catalog entry's `jsonSchema`, else the validator's own export
 * (Standard JSON Schema: Zod 4, ArkType), else any JSON. The output side: what stored events and deliveries carry.
 */
function catalogSchemas(catalog: EventCatalog | undefined): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const type of catalog?.types() ?? []) {
    out[dataSchemaName(type)] = catalog?.jsonSchema(type, "output") ?? { description: `The data of "${type}" events; its validator gives no JSON Schema.` };
  }
  return out;
}

/**
 * The events the service emits, as OpenAPI 3.1 webhooks: what each destination receives, in the CloudEvents JSON
 * format (a webhook destination's binary mode carries the same attributes as `ce-*` headers). Publishing one of these
 * types with data that does not match answers 422 `invalid_data`.
 */
function catalogWebhooks(catalog: EventCatalog): Json {
  const hooks: Json = {};
  for (const type of catalog.types()) {
    const dataschema = catalog.dataschema(type);
    hooks[type] = {
      post: {
        operationId: `event.${componentName(type)}`,
        summary: catalog.description(type) ?? `A "${type}" event.`,
        requestBody: {
          required: true,
          content: {
            "application/cloudevents+json": {
              schema: {
                allOf: [
                  ref("CloudEvent"),
                  {
                    type: "object",
                    properties: { type: { const: type }, data: ref(dataSchemaName(type)), ...(dataschema ? { dataschema: { const: dataschema } } : {}) },
                  },
                ],
              },
            },
          },
        },
        responses: { "2XX": { description: "Delivered." } },
      },
    };
  }
  return hooks;
}
