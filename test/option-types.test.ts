// Optional options accept an explicit undefined, in the types (under exactOptionalPropertyTypes, which TypeScript 7's
// `tsc --init` turns on) and at run time, where it means the same as leaving the option out.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { outboxRouter } from "../adapters/hono.ts";
import { pubsub } from "../adapters/pubsub.ts";
import { Outbox } from "../mod.ts";
import { connect, schemaName, waitFor } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const run = promisify(execFile);

test("a consumer compiling with exactOptionalPropertyTypes may pass T | undefined to every optional option", async () => {
  // test/fixtures/exact-optional.ts against the .d.ts files the global setup built into dist/.
  const result = await run(join(ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.exact.json"], { cwd: ROOT }).catch((e) => e);
  expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toBe("");
}, 30_000);

describe("an explicit undefined means the default", () => {
  const sql = connect();
  const schema = schemaName("undef");

  beforeAll(async () => {
    await new Outbox({ sql, schema }).migrate();
  });

  afterAll(async () => {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end({ timeout: 1 });
  });

  test("Outbox, worker, register, publish and list options", async () => {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const outbox = new Outbox({ sql, schema, logger: quiet, retry: { maxRetries: undefined, baseDelayMs: undefined, maxDelayMs: undefined }, maxPayloadBytes: undefined });
    expect(outbox.retry).toEqual({ maxRetries: 10, baseDelayMs: 1000, maxDelayMs: 600_000 });
    expect(outbox.maxPayloadBytes).toBe(1_048_576);
    expect(new Outbox({ sql, schema: undefined, logger: undefined, retry: undefined }).schema.name).toBe("dispatch");
    const seen: string[] = [];
    outbox.register("undef.test", (event) => void seen.push(event.id), { name: undefined });
    const worker = outbox.worker({
      concurrency: undefined, batchSize: undefined, leaseMs: undefined, sweepIntervalMs: undefined, handlerTimeoutMs: undefined,
      stopTimeoutMs: undefined, retention: undefined, logger: undefined,
    });
    await worker.start();
    try {
      const event = await outbox.publishEvent({
        type: "undef.test", source: "undef", data: undefined, id: undefined, subject: undefined, time: undefined,
        datacontenttype: undefined, dataschema: undefined, extensions: undefined, scheduledAt: undefined, maxRetries: undefined,
        orderingKey: undefined,
      }, { tx: undefined, notify: undefined });
      expect(event).toMatchObject({ subject: null, datacontenttype: "application/json", duplicate: false });
      await waitFor(() => seen.includes(event.id), "the handler to get the event");
      const page = await outbox.listEvents({ status: undefined, type: undefined, source: undefined, limit: undefined, cursor: undefined });
      expect(page.events.map((e) => e.id)).toContain(event.id);
      expect((await outbox.getEvent(event.id, { source: undefined }))?.id).toBe(event.id);
    } finally {
      await worker.stop();
    }
  });

  test("pubsub() and outboxRouter() options", async () => {
    const destination = pubsub({
      topic: "projects/p/topics/t", projectId: undefined, transport: undefined, apiEndpoint: undefined, name: undefined,
      accessToken: undefined, client: undefined, fetch: undefined,
    });
    expect(destination.name).toBe("pubsub:projects/p/topics/t");
    await destination.close?.();
    const router = outboxRouter(new Outbox({ sql, schema }), { auth: false, readAuth: undefined, maxBodyBytes: undefined, healthTimeoutMs: undefined });
    const response = await router.request("/health");
    expect(response.status).toBe(200);
  });
});
