// The cross-runtime conformance scenario: the same file proves pg-dispatch end to end on Deno, Bun and Node.
//
//   deno run -A test/conformance.ts
//   bun test/conformance.ts
//   node dist/test/conformance.js          (after `tsc -p tsconfig.conformance.json`; Node 20 cannot run .ts)
//
// Covers the core, the webhook, the Hono router and the dashboard (served by the runtime's own HTTP server: Deno.serve,
// Bun.serve, @hono/node-server). Needs DATABASE_URL; adds a Pub/Sub topic when PUBSUB_EMULATOR_HOST is set (gRPC transport;
// CONFORMANCE_PUBSUB_TRANSPORT=rest for the fetch one). Works in a fresh schema and drops it.
// Plain code on purpose (no test framework): it prints each step, and exits non-zero with the reason on a mismatch.
import { Hono } from "hono";
import postgres from "postgres";
import { outboxRouter } from "../adapters/hono.ts";
import { pubsub } from "../adapters/pubsub.ts";
import { webhook } from "../adapters/webhook.ts";
import { type DeliveredEvent, type EventRecord, Outbox } from "../mod.ts";
import { dashboardScenario } from "./conformance-dashboard.ts";
import { waitFor } from "./support/db.ts";
import { env, exit, runtime, runtimeVersion, serve, type Served } from "./support/runtime.ts";

const SCENARIO_DEADLINE_MS = 60_000;
const PROJECT = "conformance";
const TOKEN = "conformance-token";

class Mismatch extends Error {}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Mismatch(message);
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

function step(message: string): void {
  console.log(`  ${message}`);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Emulator REST calls: a topic, a subscription on it, and pulling what arrived. */
async function emulatorCall(host: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`http://${host}/v1/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.ok, `Pub/Sub emulator ${method} ${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : {};
}

async function scenario(): Promise<void> {
  const databaseUrl = env("DATABASE_URL");
  check(databaseUrl, "DATABASE_URL is not set; point it at a PostgreSQL database the scenario may create a schema in");
  const emulatorHost = env("PUBSUB_EMULATOR_HOST");
  // gRPC by default; CONFORMANCE_PUBSUB_TRANSPORT=rest switches to the fetch transport.
  const transport = env("CONFORMANCE_PUBSUB_TRANSPORT") === "rest" ? "rest" : "grpc";
  const schema = `conf_${runtime()}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const sql = postgres(databaseUrl, { max: 4, onnotice() {} });
  const servers: Served[] = [];
  let outbox: Outbox | undefined;
  let worker: ReturnType<Outbox["worker"]> | undefined;
  try {
    outbox = new Outbox({ sql, schema, logger: quiet, retry: { baseDelayMs: 50 } });
    const applied = await outbox.migrate();
    check(applied.length > 0, "migrate() on a fresh schema applied no migration");
    same(await outbox.migrate(), [], "a second migrate() (idempotent)");
    await sql.unsafe(`create table "${schema}".orders (id serial primary key, item text not null)`);
    step(`migrated schema ${schema}`);

    // A webhook receiver served by this runtime's own HTTP server.
    const received: { id: string; type: string; at: number; body: string }[] = [];
    const receiver = await serve(async (request) => {
      received.push({
        id: request.headers.get("ce-id") ?? "",
        type: request.headers.get("ce-type") ?? "",
        at: Date.now(),
        body: await request.text(),
      });
      return new Response("ok");
    });
    servers.push(receiver);

    // Destinations: a local handler and a webhook for every conf.* event, a handler that fails once, Pub/Sub.
    const handled: { id: string; at: number }[] = [];
    outbox.register("conf.*", function record(event: DeliveredEvent) {
      handled.push({ id: event.id, at: Date.now() });
    }, { name: "handler" });
    outbox.register("conf.*", webhook({ url: `${receiver.url}/hook`, name: "webhook" }));
    const flakyAttempts: number[] = [];
    outbox.register("conf.flaky", function flaky(_event: DeliveredEvent, ctx) {
      flakyAttempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new Error("first attempt fails on purpose");
    }, { name: "flaky" });
    const expected = ["handler", "webhook"];
    let subscription = "";
    if (emulatorHost) {
      const topic = schema.replaceAll("_", "-");
      subscription = `projects/${PROJECT}/subscriptions/${topic}`;
      await emulatorCall(emulatorHost, "PUT", `projects/${PROJECT}/topics/${topic}`);
      await emulatorCall(emulatorHost, "PUT", subscription, { topic: `projects/${PROJECT}/topics/${topic}` });
      outbox.register("conf.*", pubsub({ topic, projectId: PROJECT, transport, name: "pubsub" }));
      expected.push("pubsub");
      step(`Pub/Sub topic ${topic} on the emulator at ${emulatorHost} (${transport} transport)`);
    } else {
      step("PUBSUB_EMULATOR_HOST is not set: no Pub/Sub destination");
    }

    // Publishing inside a committed transaction and inside a rolled-back one.
    const committed = await sql.begin(async (tx) => {
      await tx.unsafe(`insert into "${schema}".orders (item) values ('kept')`);
      return await outbox!.publishEvent({ type: "conf.created", source: "conformance", data: { item: "kept" } }, { tx });
    });
    let rolledBackId = "";
    const rollback = new Error("roll back on purpose");
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe(`insert into "${schema}".orders (item) values ('dropped')`);
        rolledBackId = (await outbox!.publishEvent({ type: "conf.created", source: "conformance", data: { item: "dropped" } }, { tx })).id;
        throw rollback;
      });
      check(false, "the rolled-back transaction did not throw");
    } catch (error) {
      if (error !== rollback) throw error;
    }
    check(rolledBackId, "publishEvent inside the rolled-back transaction returned no id");
    same(await outbox.getEvent(rolledBackId), null, "getEvent of the rolled-back event");
    same((await sql.unsafe(`select item from "${schema}".orders`)).map((r) => r.item), ["kept"], "orders after both transactions");
    step("published in a committed and a rolled-back transaction");

    const scheduledAt = new Date(Date.now() + 1500);
    const scheduled = await outbox.publishEvent({ type: "conf.scheduled", source: "conformance", data: { n: 2 }, scheduledAt });
    const flaky = await outbox.publishEvent({ type: "conf.flaky", source: "conformance", data: { n: 3 } });
    same(committed.status, "pending", "status of a new event");

    // The Hono router, served by this runtime's own HTTP server: publish one event through it.
    const app = new Hono();
    app.route("/outbox", outboxRouter(outbox, { auth: { token: TOKEN } }));
    const api = await serve((request) => app.fetch(request));
    servers.push(api);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const posted = await fetch(`${api.url}/outbox/events`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ type: "conf.router", source: "conformance", data: { via: "router" } }),
    });
    const postedBody = await posted.json() as { id: string; status: string };
    same(posted.status, 201, `POST /outbox/events status (body ${JSON.stringify(postedBody)})`);
    same(postedBody.status, "pending", "status of the event published through the router");
    const unauthorized = await fetch(`${api.url}/outbox/events/${postedBody.id}`);
    await unauthorized.body?.cancel();
    same(unauthorized.status, 401, "GET /outbox/events/:id without a token");
    step(`router served at ${api.url}/outbox: published one event, refused a request without a token`);

    worker = outbox.worker({ concurrency: 4, sweepIntervalMs: 1000 });
    await worker.start();
    step("worker started");

    const ids = [committed.id, scheduled.id, flaky.id, postedBody.id];
    const finished = await waitFor(async () => {
      const records = await Promise.all(ids.map((id) => outbox!.getEvent(id)));
      return records.every((r) => r && (r.status === "published" || r.status === "failed")) ? records as EventRecord[] : null;
    }, "the committed, scheduled, flaky and router events to finish", 20_000);
    const [c, s, f, r] = finished;

    // Every status through getEvent.
    for (const record of finished) {
      same(record.status, "published", `status of ${record.type} (lastError ${JSON.stringify(record.lastError)})`);
      same(record.deliveries.map((d) => d.name).sort(), (record.type === "conf.flaky" ? [...expected, "flaky"] : expected).sort(), `destinations of ${record.type}`);
      for (const d of record.deliveries) {
        same(d.status, "delivered", `delivery of ${record.type} to ${d.name} (lastError ${JSON.stringify(d.lastError)})`);
        check(d.deliveredAt instanceof Date, `deliveredAt of ${record.type} at ${d.name} is not a Date`);
        if (d.name !== "flaky") same(d.attempts, 1, `attempts of ${record.type} at ${d.name}`);
      }
      check(record.publishedAt instanceof Date, `publishedAt of ${record.type} is not a Date`);
    }
    same(c.data, { item: "kept" }, "data of the committed event");
    same(r.data, { via: "router" }, "data of the event published through the router");
    const flakyDelivery = f.deliveries.find((d) => d.name === "flaky")!;
    same(flakyDelivery.attempts, 2, "attempts of the failing-then-succeeding delivery");
    same(flakyAttempts, [1, 2], "ctx.attempt seen by the failing-then-succeeding handler");
    step("getEvent: every event published, every delivery delivered; the flaky one on its second attempt");

    // Each destination got each event exactly once (the flaky retry re-ran only the flaky handler), and the
    // rolled-back event reached nobody.
    same(handled.map((h) => h.id).sort(), [...ids].sort(), "event ids the handler saw");
    await waitFor(() => received.length >= ids.length, "the webhook requests", 20_000);
    same(received.map((r) => r.id).sort(), [...ids].sort(), "ce-id of the webhook requests");
    same(JSON.parse(received.find((r) => r.id === c.id)!.body), { item: "kept" }, "webhook body of the committed event");
    // Scheduling: nothing before scheduledAt.
    const scheduledHandled = handled.find((h) => h.id === s.id)!;
    check(scheduledHandled.at >= scheduledAt.getTime(), `the scheduled event reached the handler ${scheduledAt.getTime() - scheduledHandled.at} ms early`);
    const scheduledHook = received.find((r) => r.id === s.id)!;
    check(scheduledHook.at >= scheduledAt.getTime(), `the scheduled event reached the webhook ${scheduledAt.getTime() - scheduledHook.at} ms early`);
    step("handler and webhook each got every event once, the scheduled one not before its time, the rolled-back one never");

    // Every status through the router too: the same records as getEvent, as JSON.
    for (const record of finished) {
      const answer = await fetch(`${api.url}/outbox/events/${encodeURIComponent(record.id)}`, { headers: auth });
      const body = await answer.json() as { status: string; deliveries: { name: string; status: string; attempts: number }[] };
      same(answer.status, 200, `GET /outbox/events/${record.id} status`);
      same(body.status, record.status, `router status of ${record.type}`);
      same(
        body.deliveries.map((d) => [d.name, d.status, d.attempts]).sort(),
        record.deliveries.map((d) => [d.name, d.status, d.attempts]).sort(),
        `router deliveries of ${record.type}`,
      );
    }
    const missing = await fetch(`${api.url}/outbox/events/${encodeURIComponent(rolledBackId)}`, { headers: auth });
    await missing.body?.cancel();
    same(missing.status, 404, "GET /outbox/events/:id of the rolled-back event");
    const routerStats = await (await fetch(`${api.url}/outbox/stats`, { headers: auth })).json() as { published: number };
    same(routerStats.published, ids.length, "published count from GET /outbox/stats");
    step("router: every status matches getEvent, the rolled-back event is 404, stats agree");

    if (emulatorHost) {
      const pulled: string[] = [];
      await waitFor(async () => {
        const answer = await emulatorCall(emulatorHost, "POST", `${subscription}:pull`, { maxMessages: 10 });
        const messages = (answer.receivedMessages ?? []) as { message: { attributes?: Record<string, string> } }[];
        pulled.push(...messages.map((m) => m.message.attributes?.["ce-id"] ?? ""));
        return pulled.length >= ids.length;
      }, "the Pub/Sub messages", 20_000);
      same([...new Set(pulled)].sort(), [...ids].sort(), "ce-id attributes of the Pub/Sub messages");
      step("Pub/Sub subscription received every event");
    }

    const stopStarted = Date.now();
    await worker.stop();
    check(!worker.running, "worker.running is still true after stop()");
    step(`worker stopped gracefully in ${Date.now() - stopStarted} ms`);
    const stats = await outbox.stats();
    same([stats.pending, stats.processing, stats.failed, stats.published], [0, 0, 0, ids.length], "stats pending/processing/failed/published");

    await dashboardScenario(sql, schema, c, { check, same, step });
  } finally {
    await worker?.stop().catch(() => {});
    await sql.unsafe(`drop schema if exists "${schema}" cascade`).catch(() => {});
    await sql.end({ timeout: 1 });
    for (const server of servers) await server.close();
  }
}

const started = Date.now();
console.log(`pg-dispatch conformance on ${runtimeVersion()}`);
const deadline = setTimeout(() => {
  console.error(`FAILED on ${runtimeVersion()}: the scenario did not finish within ${SCENARIO_DEADLINE_MS} ms`);
  exit(1);
}, SCENARIO_DEADLINE_MS);
try {
  await scenario();
  clearTimeout(deadline);
  console.log(`PASSED on ${runtimeVersion()} in ${Date.now() - started} ms`);
} catch (error) {
  clearTimeout(deadline);
  const reason = error instanceof Mismatch ? error.message : error instanceof Error ? error.stack ?? error.message : String(error);
  console.error(`FAILED on ${runtimeVersion()}: ${reason}`);
  exit(1);
}
