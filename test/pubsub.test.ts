import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Message, PubSub } from "@google-cloud/pubsub";
import { CloudEvent } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PubSubClient, type PubSubOptions, pubsub } from "../adapters/pubsub.ts";
import { restTransport } from "../adapters/pubsub/rest.ts";
import type { DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError } from "../src/errors.ts";
import { isStorable } from "../src/text.ts";
import type { Logger } from "../src/logger.ts";
import { type TestOutbox, testOutbox } from "./support/db.ts";
import { emulatorAvailable, type RunningEmulator, startEmulator } from "./support/emulator.ts";

const describeEmulator = emulatorAvailable() ? describe : describe.skip;
// A project per test file run, so parallel runs against one emulator never share topics.
const projectId = `pgd-${Math.random().toString(36).slice(2, 10)}`;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const decoder = new TextDecoder();

let emulator: RunningEmulator;
let admin: PubSub;
let seq = 0;
const cleanup: Array<() => Promise<unknown>> = [];

function ctx(orderingKey?: string): DeliveryContext {
  return { signal: AbortSignal.timeout(30_000), attempt: 1, destination: "test", logger: silent, orderingKey };
}

async function waitFor(what: string, done: () => boolean, deadlineMs = 20_000, refresh?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await refresh?.();
    if (done()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A fresh topic with a subscription whose messages are collected (and acked) by the official client. */
async function freshTopic(options: { ordering?: boolean } = {}): Promise<{ name: string; received: Message[] }> {
  const name = `topic-${++seq}`;
  const [topic] = await admin.createTopic(name);
  const [subscription] = await topic.createSubscription(`${name}-sub`, { enableMessageOrdering: options.ordering === true });
  const received: Message[] = [];
  subscription.on("message", (message: Message) => {
    received.push(message);
    message.ack();
  });
  subscription.on("error", () => {});
  cleanup.push(() => subscription.close());
  return { name, received };
}

function destination(options: PubSubOptions): Destination {
  const dest = pubsub({ projectId, ...options });
  cleanup.push(() => dest.close?.() ?? Promise.resolve());
  return dest;
}

/** Counts what actually leaves the process: fetch calls (REST) or publishMessage calls (gRPC, via a supplied client). */
function counting(transport: "grpc" | "rest"): { options: Partial<PubSubOptions>; sent: () => number } {
  let sent = 0;
  if (transport === "rest") {
    const wrapped: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    return { options: { fetch: wrapped }, sent: () => sent };
  }
  const client: PubSubClient = {
    projectId,
    topic(name, options) {
      const topic = admin.topic(name, options);
      return {
        publishMessage(message) {
          sent++;
          return topic.publishMessage(message);
        },
        resumePublishing: (key) => topic.resumePublishing(key),
        flush: () => topic.flush(),
      };
    },
  };
  return { options: { client }, sent: () => sent };
}

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

describeEmulator("pubsub destination against the Pub/Sub emulator", () => {
  beforeAll(async () => {
    emulator = await startEmulator();
    admin = new PubSub({ projectId, apiEndpoint: emulator.host });
  }, 90_000);

  afterAll(async () => {
    try {
      // Newest first: a worker stops before its schema is dropped.
      for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
      await admin?.close();
    } finally {
      await emulator?.stop();
    }
  }, 30_000);

  for (const transport of ["grpc", "rest"] as const) {
    describe(`${transport} transport`, () => {
      it("maps every CloudEvent attribute, the content type and the data bytes (binary mode)", async () => {
        const { name, received } = await freshTopic();
        const dest = destination({ topic: name, transport });
        const json = new CloudEvent({
          type: "order.created",
          source: "/orders",
          subject: "Order #456",
          dataschema: "https://example.com/schemas/order",
          time: "2024-05-01T12:00:00.123Z",
          data: { orderId: 456, total: 12.5, note: "é ✓" },
          tenant: "acme",
          priority: 3,
          urgent: true,
        });
        const text = new CloudEvent({ type: "note.added", source: "/notes", datacontenttype: "text/plain", data: "plain ✓ text" });
        const bytes = new CloudEvent({ type: "blob.stored", source: "/blobs", data: new Uint8Array([0, 1, 2, 255]) });
        const empty = new CloudEvent({ type: "ping", source: "/health" });
        const nullData = new CloudEvent({ type: "cleared", source: "/health", data: null });
        for (const event of [json, text, bytes, empty, nullData]) await dest.deliver(event, ctx());

        await waitFor("5 messages", () => received.length === 5);
        const byId = new Map(received.map((m) => [m.attributes["ce-id"], m]));

        const a = byId.get(json.id)!;
        expect(a.attributes).toEqual({
          "ce-id": json.id,
          "ce-source": "/orders",
          "ce-specversion": "1.0",
          "ce-type": "order.created",
          "ce-subject": "Order #456",
          "ce-time": "2024-05-01T12:00:00.123Z",
          "ce-dataschema": "https://example.com/schemas/order",
          "ce-tenant": "acme",
          "ce-priority": "3",
          "ce-urgent": "true",
          contentType: "application/json",
          "Content-Type": "application/json",
        });
        expect(JSON.parse(decoder.decode(a.data))).toEqual({ orderId: 456, total: 12.5, note: "é ✓" });

        const b = byId.get(text.id)!;
        expect(b.attributes.contentType).toBe("text/plain");
        expect(b.attributes["Content-Type"]).toBe("text/plain");
        expect(decoder.decode(b.data)).toBe("plain ✓ text");
        expect(b.attributes["ce-subject"]).toBeUndefined();

        const c = byId.get(bytes.id)!;
        expect([...c.data]).toEqual([0, 1, 2, 255]);
        expect(c.attributes.contentType).toBe("application/octet-stream");

        const d = byId.get(empty.id)!;
        expect(d.data.length).toBe(0);
        expect(d.attributes["ce-type"]).toBe("ping");
        expect(d.attributes.contentType).toBeUndefined();

        // JSON null is data, not its absence: the bytes `null`, as the webhook's body carries it.
        const e = byId.get(nullData.id)!;
        expect(decoder.decode(e.data)).toBe("null");
        expect(e.attributes.contentType).toBe("application/json");
      }, 30_000);

      it("passes the ordering key, and messages sharing a key arrive in publish order", async () => {
        const { name, received } = await freshTopic({ ordering: true });
        const dest = destination({ topic: name, transport });
        const keys = ["customer-1", "customer-2", "customer-3"];
        const sentIds = new Map<string, string[]>(keys.map((k) => [k, []]));
        // Like the worker: keys in parallel, one event in flight per key.
        await Promise.all(keys.map(async (key) => {
          for (let i = 0; i < 8; i++) {
            const event = new CloudEvent({ type: "account.changed", source: "/accounts", data: { key, i } });
            sentIds.get(key)!.push(event.id);
            await dest.deliver(event, ctx(key));
          }
        }));
        await waitFor("24 messages", () => received.length === 24);
        for (const key of keys) {
          const got = received.filter((m) => m.orderingKey === key).map((m) => m.attributes["ce-id"]);
          expect(got).toEqual(sentIds.get(key));
        }
      }, 30_000);

      it("fails permanently, naming the topic, when the topic does not exist", async () => {
        const dest = destination({ topic: "no-such-topic", transport });
        const event = new CloudEvent({ type: "x.y", source: "/t", data: {} });
        const err = await rejection(dest.deliver(event, ctx()));
        expect(err.permanent).toBe(true);
        expect(err.message).toBe(
          `Pub/Sub topic "projects/${projectId}/topics/no-such-topic" does not exist: create it ` +
            `(gcloud pubsub topics create no-such-topic --project ${projectId}) or fix the pubsub() topic option`,
        );
      }, 30_000);

      it("a key whose publish failed publishes again once the topic exists (the key is resumed)", async () => {
        const name = `late-${++seq}`;
        const dest = destination({ topic: name, transport });
        const first = new CloudEvent({ type: "x.y", source: "/t", data: { n: 1 } });
        expect((await rejection(dest.deliver(first, ctx("key-a")))).permanent).toBe(true);
        const [topic] = await admin.createTopic(name);
        const [subscription] = await topic.createSubscription(`${name}-sub`, { enableMessageOrdering: true });
        const received: Message[] = [];
        subscription.on("message", (m: Message) => {
          received.push(m);
          m.ack();
        });
        cleanup.push(() => subscription.close());
        const second = new CloudEvent({ type: "x.y", source: "/t", data: { n: 2 } });
        await dest.deliver(second, ctx("key-a"));
        await waitFor("the retried key's message", () => received.length === 1);
        expect(received[0].attributes["ce-id"]).toBe(second.id);
        expect(received[0].orderingKey).toBe("key-a");
      }, 30_000);

      it("refuses an event over Pub/Sub's limits permanently, without sending it", async () => {
        const { name } = await freshTopic();
        const { options, sent } = counting(transport);
        const dest = destination({ topic: name, transport, ...options });

        const many: Record<string, string> = {};
        for (let i = 0; i < 101; i++) many[`ext${i}`] = "v";
        const tooMany = await rejection(dest.deliver(new CloudEvent({ type: "x.y", source: "/t", ...many }), ctx()));
        expect(tooMany.permanent).toBe(true);
        expect(tooMany.message).toMatch(/needs 106 Pub\/Sub attributes but Pub\/Sub allows 100/);

        const long = new CloudEvent({ type: "x.y", source: "/t", note: "x".repeat(2000) });
        const tooLong = await rejection(dest.deliver(long, ctx()));
        expect(tooLong.permanent).toBe(true);
        expect(tooLong.message).toBe(
          `Event ${long.id} has a Pub/Sub attribute "ce-note" of 2000 bytes, over Pub/Sub's limit of 1024: ` +
            "move the value into the event data",
        );

        const huge = new CloudEvent({ type: "x.y", source: "/t", data: { blob: "x".repeat(10_000_000) } });
        const tooBig = await rejection(dest.deliver(huge, ctx()));
        expect(tooBig.permanent).toBe(true);
        expect(tooBig.message).toMatch(/makes a Pub\/Sub message of \d+ bytes, over Pub\/Sub's limit of 10000000/);

        expect(sent()).toBe(0);
        // The same destination still publishes events that fit.
        await dest.deliver(new CloudEvent({ type: "x.y", source: "/t", data: {} }), ctx());
        expect(sent()).toBe(1);
      }, 30_000);
    });
  }

  describe("rest transport batching", () => {
    it("sends concurrent deliveries in one HTTP request and resolves each caller", async () => {
      const { name, received } = await freshTopic();
      const { options, sent } = counting("rest");
      const dest = destination({ topic: name, transport: "rest", apiEndpoint: `http://${emulator.host}`, ...options });
      const events = Array.from({ length: 25 }, (_, i) => new CloudEvent({ type: "x.y", source: "/t", data: { i } }));
      await Promise.all(events.map((event) => dest.deliver(event, ctx())));
      expect(sent()).toBe(1);
      await waitFor("25 messages", () => received.length === 25);
      expect(new Set(received.map((m) => m.attributes["ce-id"]))).toEqual(new Set(events.map((e) => e.id)));
    }, 30_000);

    it("keeps callers apart: an over-limit event in a burst fails alone", async () => {
      const { name, received } = await freshTopic();
      const dest = destination({ topic: name, transport: "rest" });
      const good = [1, 2, 3].map((i) => new CloudEvent({ type: "x.y", source: "/t", data: { i } }));
      const bad = new CloudEvent({ type: "x.y", source: "/t", note: "x".repeat(1500) });
      const results = await Promise.allSettled([...good, bad].map((event) => dest.deliver(event, ctx())));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected"]);
      await waitFor("3 messages", () => received.length === 3);
    }, 30_000);
  });

  describe("grpc transport with a supplied client", () => {
    it("publishes through it and leaves it open on close()", async () => {
      const { name, received } = await freshTopic();
      const dest = pubsub({ topic: name, client: admin });
      const event = new CloudEvent({ type: "x.y", source: "/t", data: { ok: true } });
      await dest.deliver(event, ctx());
      await dest.close?.();
      await waitFor("the message", () => received.length === 1);
      // admin still works after the destination closed
      await admin.topic(name).publishMessage({ data: new Uint8Array([1]) });
      await waitFor("the admin's own message", () => received.length === 2);
    }, 30_000);
  });

  describe("end to end: publish, worker, Pub/Sub", () => {
    for (const transport of ["grpc", "rest"] as const) {
      it(`${transport}: the event arrives with ce-id equal to the event id and the delivery is delivered`, async () => {
        const { name, received } = await freshTopic({ ordering: true });
        const db: TestOutbox = await testOutbox();
        cleanup.push(() => db.drop());
        const dest = pubsub({ topic: name, projectId, transport });
        db.outbox.register("*", dest);
        const worker = db.outbox.worker();
        cleanup.push(() => worker.stop());
        await worker.start();

        const record = await db.outbox.publishEvent({
          type: "order.created",
          source: "orders",
          subject: "Order #456",
          data: { orderId: 456 },
          extensions: { tenant: "acme" },
          orderingKey: "order-456",
        });
        await waitFor("the message in the subscription", () => received.length === 1);
        const message = received[0];
        expect(message.attributes["ce-id"]).toBe(record.id);
        expect(message.attributes["ce-type"]).toBe("order.created");
        expect(message.attributes["ce-subject"]).toBe("Order #456");
        expect(message.attributes["ce-tenant"]).toBe("acme");
        expect(message.orderingKey).toBe("order-456");
        expect(JSON.parse(decoder.decode(message.data))).toEqual({ orderId: 456 });

        let stored = await db.outbox.getEvent(record.id);
        await waitFor("the event to be published", () => stored?.status === "published", 10_000, async () => {
          stored = await db.outbox.getEvent(record.id);
        });
        expect(stored?.deliveries).toEqual([expect.objectContaining({ name: dest.name, status: "delivered", attempts: 1 })]);
      }, 60_000);
    }

    it("a missing topic fails the delivery for good with a clear lastError", async () => {
      const db: TestOutbox = await testOutbox();
      cleanup.push(() => db.drop());
      db.outbox.register("*", pubsub({ topic: "never-created", projectId }));
      const worker = db.outbox.worker();
      cleanup.push(() => worker.stop());
      await worker.start();
      const record = await db.outbox.publishEvent({ type: "x.y", source: "t", data: {} });
      let stored = await db.outbox.getEvent(record.id);
      await waitFor("the event to fail", () => stored?.status === "failed", 10_000, async () => {
        stored = await db.outbox.getEvent(record.id);
      });
      expect(stored?.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(stored?.deliveries[0].lastError).toContain(`Pub/Sub topic "projects/${projectId}/topics/never-created" does not exist`);
    }, 60_000);
  });
});

describe("pubsub() options", () => {
  function withoutEnv<T>(names: string[], fn: () => T): T {
    const saved = names.map((n) => [n, process.env[n]] as const);
    for (const n of names) delete process.env[n];
    try {
      return fn();
    } finally {
      for (const [n, v] of saved) if (v !== undefined) process.env[n] = v;
    }
  }

  it("needs a project, and says where to put it", () => {
    withoutEnv(["GOOGLE_CLOUD_PROJECT", "PUBSUB_PROJECT_ID"], () => {
      expect(() => pubsub({ topic: "events" })).toThrow(
        new DispatchError(
          "invalid_option",
          'pubsub() needs a Google Cloud project for topic "events": pass { projectId }, or set GOOGLE_CLOUD_PROJECT (or PUBSUB_PROJECT_ID)',
        ),
      );
    });
  });

  it("takes the project from a full topic path and names the destination after the topic", () => {
    const dest = pubsub({ topic: "projects/p1/topics/events" });
    expect(dest.name).toBe("pubsub:projects/p1/topics/events");
    expect(pubsub({ topic: "events", projectId: "p1", name: "bus" }).name).toBe("bus");
  });

  it("refuses the REST transport to Google without an access token", () => {
    withoutEnv(["PUBSUB_EMULATOR_HOST"], () => {
      expect(() => pubsub({ topic: "events", projectId: "p1", transport: "rest" })).toThrow(/needs an accessToken function/);
      expect(() => pubsub({ topic: "events", projectId: "p1", transport: "rest", accessToken: () => "t" })).not.toThrow();
    });
  });

  it("refuses an unknown transport", () => {
    expect(() => pubsub({ topic: "events", projectId: "p1", transport: "amqp" as "rest" })).toThrow(/must be "grpc" or "rest"/);
  });
});

// Answers the emulator cannot give (403, 429, 500, a hang), from a real HTTP server on 127.0.0.1.
describe("rest transport: how HTTP answers map to retries", () => {
  let server: Server;
  let base: string;
  let reply: (req: IncomingMessage, body: string, res: ServerResponse) => void = () => {};
  const bodies: string[] = [];
  const auth: Array<string | undefined> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        bodies.push(body);
        auth.push(req.headers.authorization);
        reply(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function answer(status: number, body: unknown, headers: Record<string, string> = {}): void {
    reply = (_req, _body, res) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
  }
  function dest(options: Partial<PubSubOptions> = {}): Destination {
    return pubsub({ topic: "events", projectId: "p1", transport: "rest", apiEndpoint: base, ...options });
  }
  const event = new CloudEvent({ type: "x.y", source: "/t", data: { n: 1 } });

  it("posts the binding to /v1/projects/P/topics/T:publish with the access token as a Bearer token", async () => {
    bodies.length = 0;
    auth.length = 0;
    let path = "";
    reply = (req, _body, res) => {
      path = req.url ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ messageIds: ["1"] }));
    };
    // Tokens go over https only: an https endpoint whose fetch hands the request to this plain-HTTP server.
    const viaHttps = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
      fetch(String(input).replace("https://pubsub.test.invalid", base), init);
    await dest({ apiEndpoint: "https://pubsub.test.invalid", fetch: viaHttps as typeof fetch, accessToken: async () => "tok-123" })
      .deliver(event, ctx("k1"));
    expect(path).toBe("/v1/projects/p1/topics/events:publish");
    expect(auth).toEqual(["Bearer tok-123"]);
    const sent = JSON.parse(bodies[0]) as { messages: Array<{ data: string; attributes: Record<string, string>; orderingKey: string }> };
    expect(sent.messages).toHaveLength(1);
    expect(sent.messages[0].orderingKey).toBe("k1");
    expect(sent.messages[0].attributes["ce-id"]).toBe(event.id);
    expect(JSON.parse(atob(sent.messages[0].data))).toEqual({ n: 1 });
  });

  it("never sends the access token over plain http: the emulator gets none, and the token source is not called", async () => {
    const saved = process.env.PUBSUB_EMULATOR_HOST;
    auth.length = 0;
    answer(200, { messageIds: ["1"] });
    let calls = 0;
    const accessToken = (): string => `real-token-${++calls}`;
    try {
      const host = base.replace("http://", "");
      await dest({ apiEndpoint: base, accessToken }).deliver(event, ctx());
      await dest({ apiEndpoint: host, accessToken }).deliver(event, ctx()); // scheme-less, not Google: the emulator
      process.env.PUBSUB_EMULATOR_HOST = host;
      await dest({ apiEndpoint: undefined, accessToken }).deliver(event, ctx());
    } finally {
      if (saved === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = saved;
    }
    expect(auth).toEqual([undefined, undefined, undefined]);
    expect(calls).toBe(0);
  });

  it("refuses a token that is not a string, clearly, without sending anything", async () => {
    const viaHttps = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
      fetch(String(input).replace("https://pubsub.test.invalid", base), init);
    bodies.length = 0;
    answer(200, { messageIds: ["1"] });
    for (const [value, got] of [[undefined, "undefined"], [{ token: "t", res: null }, "object"], ["", "an empty string"]] as const) {
      const d = dest({ apiEndpoint: "https://pubsub.test.invalid", fetch: viaHttps as typeof fetch, accessToken: () => value as unknown as string });
      const err = await rejection(d.deliver(event, ctx()));
      expect(err.permanent).toBe(false);
      expect(err.message).toBe(
        `The pubsub() accessToken function returned ${got}, not an access token: return the token string ` +
          "(with google-auth-library: (await auth.getAccessToken()).token)",
      );
    }
    expect(bodies).toHaveLength(0);
    expect(() => dest({ accessToken: "ya29.a-token" as unknown as () => string })).toThrow(/accessToken must be a function/);
  });

  it("an accessToken() that never settles fails the attempt in time, and close() returns", async () => {
    const target = { projectId: "p1", topic: "events", topicPath: "projects/p1/topics/events", apiEndpoint: "https://pubsub.test.invalid", emulator: false };
    const transport = restTransport(target, { accessToken: () => new Promise<string>(() => {}), tokenTimeoutMs: 300 });
    const { toPubSubMessage } = await import("../adapters/pubsub/message.ts");
    const err = await rejection(transport.publish(toPubSubMessage(event), AbortSignal.timeout(30_000)));
    expect(err.message).toBe("The pubsub() accessToken function did not answer within 300 ms");
    // The caller that gave up before the token came: close() must still return.
    const pending = transport.publish(toPubSubMessage(event), AbortSignal.timeout(50)).catch(() => {});
    await pending;
    await transport.close();
  });

  it("reads an error answer with a bound and stores a well-formed, NUL-free excerpt cut between code points", async () => {
    // A JSON error whose message is 20 MiB: read whole, it became a 20M-character lastError.
    reply = (_req, _body, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.write('{"error":{"code":500,"message":"');
      const chunk = "x".repeat(1024 * 1024);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end('"}}');
    };
    const huge = await rejection(dest().deliver(event, ctx()));
    expect(huge.message.length).toBeLessThan(400);
    // NUL in the message, and an emoji straddling the 300th character.
    const hostile = "\u0000bin\u0000ary".padEnd(299, "y") + "😀 tail";
    answer(503, { error: { code: 503, message: hostile } });
    const err = await rejection(dest().deliver(event, ctx()));
    expect(isStorable(err.message)).toBe(true);
    expect(err.message).toMatch(/: \uFFFDbin\uFFFDary+…$/);
    // Raw UTF-16 bytes (every other byte 0x00) as a non-JSON error page.
    reply = (_req, _body, res) => res.writeHead(502, { "content-type": "text/html; charset=utf-16le" }).end(Buffer.from("<h1>Bad gateway</h1>", "utf16le"));
    const utf16 = await rejection(dest().deliver(event, ctx()));
    expect(isStorable(utf16.message)).toBe(true);
  });

  it("an error body that never ends does not hold the attempt", async () => {
    reply = (_req, _body, res) => {
      res.writeHead(500);
      const pump = (): void => {
        while (res.write("z".repeat(16 * 1024))) {
          // keep the socket's buffer full
        }
      };
      res.on("drain", pump);
      pump();
    };
    const err = await rejection(dest().deliver(event, ctx()));
    expect(err.message).toMatch(/^Pub\/Sub answered HTTP 500 to a publish to topic "projects\/p1\/topics\/events": z+…$/);
  });

  it("403 is permanent, with Pub/Sub's own message", async () => {
    answer(403, { error: { code: 403, message: "User not authorized to perform this action.", status: "PERMISSION_DENIED" } });
    const err = await rejection(dest().deliver(event, ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toBe(
      'Pub/Sub answered HTTP 403 to a publish to topic "projects/p1/topics/events": User not authorized to perform this action.',
    );
  });

  it("429 is retried after Retry-After; 500 and 401 are retried", async () => {
    answer(429, { error: { code: 429, message: "slow down" } }, { "retry-after": "7" });
    const limited = await rejection(dest().deliver(event, ctx()));
    expect(limited.permanent).toBe(false);
    expect(limited.retryAfterMs).toBe(7000);
    answer(500, { error: { code: 500, message: "internal" } });
    expect((await rejection(dest().deliver(event, ctx()))).permanent).toBe(false);
    answer(401, { error: { code: 401, message: "expired token" } });
    expect((await rejection(dest().deliver(event, ctx()))).permanent).toBe(false);
  });

  it("a 400 for a batch is retried message by message, so only the bad one fails", async () => {
    bodies.length = 0;
    reply = (_req, body, res) => {
      const { messages } = JSON.parse(body) as { messages: Array<{ attributes: Record<string, string> }> };
      const bad = messages.some((m) => m.attributes["ce-source"] === "/bad");
      res.writeHead(bad ? 400 : 200, { "content-type": "application/json" });
      res.end(JSON.stringify(bad ? { error: { code: 400, message: "bad message" } } : { messageIds: messages.map((_, i) => String(i)) }));
    };
    const d = dest();
    const events = ["/ok", "/bad", "/ok"].map((source) => new CloudEvent({ type: "x.y", source, data: {} }));
    const results = await Promise.allSettled(events.map((e) => d.deliver(e, ctx())));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(((results[1] as PromiseRejectedResult).reason as DeliveryError).permanent).toBe(true);
    expect(bodies).toHaveLength(4); // the batch, then each message alone
  });

  it("an attempt aborted while Pub/Sub hangs fails retryably", async () => {
    reply = () => {}; // never answers
    const err = await dest().deliver(event, { ...ctx(), signal: AbortSignal.timeout(200) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).permanent).toBe(false);
    expect((err as DeliveryError).message).toMatch(/aborted/);
  });

  it("a refused connection fails retryably, naming the endpoint", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const d = pubsub({ topic: "events", projectId: "p1", transport: "rest", apiEndpoint: `http://127.0.0.1:${closed}` });
    const err = await rejection(d.deliver(event, ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`Could not reach Pub/Sub at http://127.0.0.1:${closed}/v1/projects/p1/topics/events:publish`);
  });
});
