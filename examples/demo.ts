// The demo behind `npm run demo`: publishes an immediate, a scheduled, a transactional (one committed, one rolled
// back) and a failing event; delivers them to local handlers, a webhook and (when an emulator runs) Pub/Sub; and
// prints what happened to each. Uses DATABASE_URL, or starts a throwaway embedded PostgreSQL.
import { createServer, type IncomingMessage } from "node:http";
import postgres from "postgres";
import { CloudEvent, type EventRecord, Outbox, PermanentError } from "../mod.ts";
import { pubsub } from "../adapters/pubsub.ts";
import { webhook } from "../adapters/webhook.ts";
import { type EmbeddedServer, startEmbeddedPostgres } from "./embedded-postgres.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);

let embedded: EmbeddedServer | undefined;
let url = process.env.DATABASE_URL;
if (!url) {
  say("DATABASE_URL is not set: starting a throwaway embedded PostgreSQL...");
  embedded = await startEmbeddedPostgres().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`); // a sentence that says what to do; the stack would only bury it
    process.exit(1);
  });
  url = embedded.url;
}
const sql = postgres(url, { max: 5, onnotice: () => {} });
// The worker's warnings, one indented line each among the handlers' output (the failures are the demo's, on purpose).
const logLine = (level: string) => (message: string, fields?: Record<string, unknown>) =>
  say(`  (worker ${level}) ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
const logger = { debug() {}, info() {}, warn: logLine("warning"), error: logLine("error") };
const outbox = new Outbox({ sql, schema: "dispatch_demo", logger, retry: { baseDelayMs: 200, maxRetries: 2 } });
await sql.unsafe(`drop schema if exists dispatch_demo cascade`);
await outbox.migrate();
await sql.unsafe(`create table dispatch_demo.users (id serial primary key, email text not null)`);

// A webhook receiver, as a consumer's service would run it.
const received: string[] = [];
const receiver = createServer(async (req: IncomingMessage, res) => {
  for await (const _ of req);
  received.push(`${req.headers["ce-type"]} (webhook-id ${req.headers["webhook-id"]})`);
  res.writeHead(204).end();
});
await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;

// Handlers: Django Dispatch's event_registry.register, one verb for every kind of destination.
outbox.register("user.created", function welcomeEmail(event) {
  say(`  [welcomeEmail] user created: ${JSON.stringify(event.data)}`);
});
outbox.register(["order.created", "order.completed"], function fulfilment(event) {
  say(`  [fulfilment] ${event.type}: ${event.subject ?? ""} ${JSON.stringify(event.data)}`);
});
outbox.register(function logAllEvents(event) {
  say(`  [logAllEvents] ${event.type} from ${event.source}`);
});
outbox.register("payment.captured", function ledger() {
  throw new Error("ledger service unreachable");
});
outbox.register("payment.*", function fraudCheck() {
  throw new PermanentError("card issuer rejected the request");
});
outbox.register("order.*", webhook({ url: hookUrl, secret: "whsec_ZGVtby1zZWNyZXQtZm9yLXBnLWRpc3BhdGNo" }));

const emulator = process.env.PUBSUB_EMULATOR_HOST ?? "127.0.0.1:8085";
if (await reachable(`http://${emulator}/`)) {
  await fetch(`http://${emulator}/v1/projects/demo/topics/events`, { method: "PUT" });
  outbox.register("order.*", pubsub({ topic: "events", projectId: "demo", transport: "rest", apiEndpoint: `http://${emulator}` }));
  say(`Pub/Sub: publishing order events to the emulator at ${emulator} (topic projects/demo/topics/events).`);
} else {
  say(`Pub/Sub: no emulator at ${emulator}, so no Pub/Sub destination in this run. Start one with`);
  say("  /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator --host=127.0.0.1 --port=8085");
}

say("\nPublishing:");
const immediate = await outbox.publishEvent({ type: "order.created", source: "order-service", data: { order_id: 455 } });
say(`  immediate      order.created      ${immediate.id}`);
const scheduled = await outbox.publishEvent({
  type: "reminder.send",
  source: "reminder-service",
  data: { user_id: 123, message: "Remember to complete your profile" },
  scheduledAt: new Date(Date.now() + 2000),
});
say(`  scheduled +2s  reminder.send      ${scheduled.id}`);
const cloud = await outbox.publishCloudEvent(
  new CloudEvent({ type: "order.completed", source: "order-service", data: { order_id: 456, total: 99.99 }, subject: "Order #456" }),
);
say(`  CloudEvent     order.completed    ${cloud.id}`);
const committed = await sql.begin(async (tx) => {
  const [user] = await tx`insert into dispatch_demo.users (email) values ('ada@example.com') returning id`;
  return await outbox.publishEvent({ type: "user.created", source: "user-service", data: { user_id: user.id, email: "ada@example.com" } }, { tx });
});
say(`  transactional  user.created       ${committed.id} (committed)`);
let rolledBack: EventRecord | undefined;
await sql.begin(async (tx) => {
  await tx`insert into dispatch_demo.users (email) values ('bob@example.com')`;
  rolledBack = await outbox.publishEvent({ type: "user.created", source: "user-service", data: { email: "bob@example.com" } }, { tx });
  throw new Error("rollback");
}).catch(() => {});
say(`  transactional  user.created       ${rolledBack!.id} (rolled back)`);
const failing = await outbox.publishEvent({ type: "payment.captured", source: "payments", data: { amount: 42 }, maxRetries: 2 });
say(`  failing        payment.captured   ${failing.id} (maxRetries 2; two of its handlers fail on purpose)`);

say("\nWorker running (Django Dispatch's `manage.py outbox_worker`):");
const worker = outbox.worker({ concurrency: 8 });
const started = Date.now();
await worker.start();
const ids = [immediate.id, scheduled.id, cloud.id, committed.id, failing.id];
for (;;) {
  const events = await Promise.all(ids.map((id) => outbox.getEvent(id)));
  if (events.every((e) => e && e.deliveries.length && e.deliveries.every((d) => d.status === "delivered" || d.status === "failed"))) break;
  if (Date.now() - started > 30_000) {
    say("  (gave up waiting after 30 s)");
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
await worker.stop();

say("\nWhat happened to each event:");
const shown = await Promise.all(ids.map(async (id) => (await outbox.getEvent(id))!));
// One width for every event's destination column, so the statuses line up down the whole listing.
const width = Math.max(...shown.flatMap((e) => e.deliveries.map((d) => d.name.length)));
for (const e of shown) show(e, width);
say(`\n  rolled back   ${rolledBack!.id}: ${(await outbox.getEvent(rolledBack!.id)) === null ? "not stored (its transaction rolled back)" : "STORED?!"}`);
say(`\nThe webhook receiver saw: ${received.join(", ")}`);
const failed = await outbox.listEvents({ status: "failed" });
say(`\nlistEvents({ status: "failed" }): ${failed.events.map((e) => `${e.type} - ${e.lastError}`).join("; ")}`);
say(`stats(): ${JSON.stringify(await outbox.stats())}`);
if (!embedded) {
  say("\nThese events stay in the schema dispatch_demo of DATABASE_URL's database (each run starts it afresh). Look at them");
  say("with `npx pg-dispatch events --schema dispatch_demo` (with DATABASE_URL exported, or --database-url); remove them");
  say("with `drop schema dispatch_demo cascade`.");
}

receiver.close();
await sql.end();
await embedded?.stop();

function show(e: EventRecord, width: number): void {
  say(`\n  ${e.type} ${e.id}`);
  say(`    status ${e.status}, attempts ${e.attempts}${e.lastError ? `, lastError "${e.lastError}"` : ""}${e.scheduledAt ? `, scheduled ${e.scheduledAt.toISOString()}` : ""}`);
  for (const d of e.deliveries) {
    const when = d.deliveredAt ? `at ${d.deliveredAt.toISOString()}` : d.lastError ? `"${d.lastError}"` : "";
    say(`    - ${d.name.padEnd(width)}  ${d.status.padEnd(9)}  attempts ${d.attempts}  ${when}`);
  }
}

async function reachable(target: string): Promise<boolean> {
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(500) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
