// The Pub/Sub push receiver fed by a real push subscription: the outbox publishes through the pubsub() destination
// to the Pub/Sub emulator, which pushes each message (the wrapped envelope it really sends) to receivePubSubPush on
// a real HTTP server. A message published again (a new messageId, the same event) is a duplicate.
import { PubSub } from "@google-cloud/pubsub";
import type { CloudEvent } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pubsub } from "../adapters/pubsub.ts";
import { receivePubSubPush } from "../adapters/receiver.ts";
import { toPubSubMessage } from "../adapters/pubsub/message.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";
import { emulatorAvailable, type RunningEmulator, startEmulator } from "./support/emulator.ts";
import { type Served, serveReceiver } from "./support/receiver.ts";

const describeEmulator = emulatorAvailable() ? describe : describe.skip;
const projectId = `pgd-push-${Math.random().toString(36).slice(2, 10)}`;

describeEmulator("Pub/Sub push: the emulator's pushes to the receiver, one effect per event", () => {
  let emulator: RunningEmulator;
  let admin: PubSub;
  let t: TestOutbox;
  let served: Served;
  const seen: CloudEvent<unknown>[] = [];
  const answers: { status: number; body: { received?: { id: string; duplicate: boolean }[] } }[] = [];

  beforeAll(async () => {
    emulator = await startEmulator();
    admin = new PubSub({ projectId, apiEndpoint: emulator.host });
    t = await testOutbox();
    await t.sql.unsafe(`create table "${t.schema}".effects (source text not null, id text not null, subject text, data jsonb)`);
    const handle = receivePubSubPush({
      sql: t.sql,
      schema: t.schema,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      handler: async (event, { tx }) => {
        seen.push(event);
        await tx.unsafe(`insert into "${t.schema}".effects values ($1, $2, $3, $4::text::jsonb)`, [event.source, event.id, event.subject ?? null, JSON.stringify(event.data ?? null)]);
      },
    });
    await handle.migrate();
    // What the receiver answered each push, as the emulator got it.
    const answering = async (request: Request | { req: { raw: Request } }): Promise<Response> => {
      const response = await handle(request);
      answers.push({ status: response.status, body: await response.clone().json() });
      return response;
    };
    served = await serveReceiver(Object.assign(answering, { migrate: handle.migrate }));
  }, 90_000);

  afterAll(async () => {
    try {
      await served?.close();
      await t?.drop();
      await admin?.close();
    } finally {
      await emulator?.stop();
    }
  }, 30_000);

  it("handles what the outbox published, as the emulator pushed it, and a republished message as a duplicate", async () => {
    const [topic] = await admin.createTopic(`orders-${t.schema}`);
    await topic.createSubscription(`push-${t.schema}`, { pushConfig: { pushEndpoint: served.url }, ackDeadlineSeconds: 10 });
    t.outbox.register("order.*", pubsub({ topic: topic.name.split("/").pop()!, projectId }));
    const worker = t.outbox.worker({ sweepIntervalMs: 60_000 });
    await worker.start();
    const source = `/orders/${t.schema}`;
    try {
      await t.outbox.publishEvent({ type: "order.completed", source, id: "o-1", subject: "Order #456 €", data: { total: 12 } });
      await t.outbox.publishEvent({ type: "order.updated", source, id: "o-2", data: { note: "a \"quoted\" 100%" } });
      await waitFor(() => seen.length === 2, "both events pushed to the receiver", 20_000);
    } finally {
      await worker.stop();
    }
    const effects = async () => await t.sql.unsafe(`select id, subject, data from "${t.schema}".effects where source = $1 order by id`, [source]);
    expect(await effects()).toEqual([
      { id: "o-1", subject: "Order #456 €", data: { total: 12 } },
      { id: "o-2", subject: null, data: { note: "a \"quoted\" 100%" } },
    ]);
    // The same event published again, as an outbox retry after a lost answer would: a new messageId.
    const again = toPubSubMessage(seen.find((e) => e.id === "o-1")!);
    await topic.publishMessage({ data: Buffer.from(again.data), attributes: again.attributes });
    await waitFor(() => answers.some((a) => a.body.received?.[0]?.duplicate === true), "the republished message answered as a duplicate", 20_000);
    expect(answers.map((a) => [a.status, a.body.received?.[0]?.id, a.body.received?.[0]?.duplicate]).sort()).toEqual([
      [200, "o-1", false],
      [200, "o-1", true],
      [200, "o-2", false],
    ]);
    expect(seen.map((e) => e.id).sort()).toEqual(["o-1", "o-2"]);
    expect(await effects()).toHaveLength(2);
  }, 60_000);
});
