// The NATS JetStream destination against the machine's nats-server (127.0.0.1:4222, started with -js): every message
// is read back by an independent consumer made with the NATS client itself.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { CloudEvent } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nats, natsMessage } from "../adapters/nats.ts";
import type { Destination } from "../src/destination.ts";
import { DispatchError } from "../src/errors.ts";
import { brokerServer, succeeds } from "./reliability/support/broker-server.ts";
import { closedPort, ctx, rejection, richAttributes, richEvent, running, settled, unique } from "./support/brokers.ts";
import { waitFor } from "./support/db.ts";

const SERVERS = process.env.NATS_URL ?? "127.0.0.1:4222";
const decoder = new TextDecoder();
let nc: NatsConnection;
let jsm: JetStreamManager;
const cleanup: Array<() => Promise<unknown>> = [];

/** A fresh stream capturing `<name>.>` and the subject `<name>.events` to publish on. */
async function freshStream(): Promise<{ stream: string; subject: string }> {
  const stream = unique("PGD");
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  cleanup.push(() => jsm.streams.delete(stream));
  return { stream, subject: `${stream}.events` };
}

/** Every message in the stream, in stream order, read by an ordered consumer. */
async function readAll(stream: string, expected: number) {
  const consumer = await jetstream(nc).consumers.get(stream);
  const out = [];
  const messages = await consumer.fetch({ max_messages: expected, expires: 5_000 });
  for await (const m of messages) {
    out.push({
      seq: m.seq,
      headers: Object.fromEntries([...(m.headers?.keys() ?? [])].map((k) => [k, m.headers!.get(k)])),
      data: decoder.decode(m.data),
    });
    if (out.length === expected) break;
  }
  return out;
}

function destination(options: Parameters<typeof nats>[0]): Destination {
  const dest = nats(options);
  cleanup.push(() => dest.close?.() ?? Promise.resolve());
  return dest;
}

beforeAll(async () => {
  nc = await connect({ servers: SERVERS });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await nc?.close();
});

describe("nats destination: the CloudEvents NATS binding, binary mode", () => {
  it("sends every attribute as a ce- header, the content type and the data, with Nats-Msg-Id = the event id", async () => {
    const { stream, subject } = await freshStream();
    const dest = destination({ servers: SERVERS, subject });
    const event = richEvent();
    const text = new CloudEvent({ type: "note.added", source: "/notes", datacontenttype: "text/plain", data: "line one\nline two" });
    const empty = new CloudEvent({ type: "ping", source: "/health" });
    for (const e of [event, text, empty]) await dest.deliver(e, ctx());

    const [a, b, c] = await readAll(stream, 3);
    const expected = Object.fromEntries(Object.entries(richAttributes(event)).map(([k, v]) => [`ce-${k}`, v]));
    expect(a.headers).toEqual({ ...expected, "content-type": "application/json", "Nats-Msg-Id": event.id });
    expect(JSON.parse(a.data)).toEqual({ orderId: 456, total: 12.5, note: "é ✓" });
    expect(b.headers["content-type"]).toBe("text/plain");
    expect(b.data).toBe("line one\nline two");
    expect(c.headers["ce-type"]).toBe("ping");
    expect(c.headers["content-type"]).toBeUndefined();
    expect(c.data).toBe("");
  });

  it("sends the ordering key as ce-partitionkey, and events that share a key keep publish order", async () => {
    const { stream, subject } = await freshStream();
    const dest = destination({ servers: SERVERS, subject });
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const e = new CloudEvent({ type: "account.changed", source: "/accounts", data: { i } });
      sent.push(e.id);
      await dest.deliver(e, ctx("account-7"));
    }
    const got = await readAll(stream, 10);
    expect(got.map((m) => m.headers["ce-id"])).toEqual(sent);
    expect(new Set(got.map((m) => m.headers["ce-partitionkey"]))).toEqual(new Set(["account-7"]));
  });

  it("a re-sent event is dropped by JetStream's duplicate window and still counts as delivered", async () => {
    const { stream, subject } = await freshStream();
    const dest = destination({ servers: SERVERS, subject });
    const event = richEvent();
    await dest.deliver(event, ctx());
    await dest.deliver(event, ctx());
    expect((await jsm.streams.info(stream)).state.messages).toBe(1);
  });

  it("percent-encodes a line break in a header value (NATS headers cannot carry one)", () => {
    const event = new CloudEvent({ type: "t", source: "s", subject: "a\r\nb" });
    expect(natsMessage(event).headers).toContainEqual(["ce-subject", "a%0D%0Ab"]);
  });
});

describe("nats destination: outcomes", () => {
  it("no stream for the subject fails for good, naming the subject and the fix", async () => {
    const subject = `${unique("nostream")}.events`;
    const err = await rejection(destination({ servers: SERVERS, subject }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toBe(
      `No JetStream stream captures subject "${subject}": add one (nats stream add EVENTS --subjects "${subject}") ` +
        "or fix the nats() subject option",
    );
  });

  it("a server that is down is retried, not failed for good", async () => {
    const port = await closedPort();
    const dest = destination({ servers: `127.0.0.1:${port}`, subject: "events" });
    const err = await rejection(dest.deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`Could not connect to NATS at 127.0.0.1:${port}`);
  });

  it("a server that had no JetStream at first and then has it without the stream: the missing stream fails for good", async () => {
    // A nats-server of the test's own, started first without JetStream, then again on the same port with it.
    let withJetStream = false;
    const server = await brokerServer({
      name: "nats",
      command: "/usr/sbin/nats-server",
      args: (port, dir) => ["-a", "127.0.0.1", "-p", String(port), ...(withJetStream ? ["-js", "-sd", dir] : [])],
      ready: (port) => succeeds(async () => await (await connect({ servers: `127.0.0.1:${port}`, reconnect: false })).close()),
    });
    cleanup.push(() => server.remove());
    await server.start();
    const subject = `${unique("late")}.events`;
    const dest = destination({ servers: `127.0.0.1:${server.port}`, subject, ackTimeoutMs: 1000 });
    const early = await rejection(dest.deliver(richEvent(), ctx()));
    expect(early.permanent).toBe(false);
    await server.stop("SIGTERM");
    withJetStream = true;
    await server.start();
    // The connection reconnects on its own; once it has, JetStream answers that no stream captures the subject.
    const late = await waitFor(async () => {
      const err = await rejection(dest.deliver(richEvent(), ctx(undefined, 3000)));
      return err.permanent ? err : undefined;
    }, "the missing stream to be named", 15_000);
    expect(late.message).toContain(`No JetStream stream captures subject "${subject}"`);
  }, 40_000);

  it("refuses bad options at once, naming the field", () => {
    expect(() => nats({ servers: SERVERS, subject: "events.>" })).toThrow(/subject must be a subject without spaces or wildcards/);
    expect(() => nats({ servers: [], subject: "events" })).toThrow(/needs servers/);
    expect(() => nats({ servers: SERVERS, subject: "e", stream: "x" } as never)).toThrow(DispatchError);
  });
});

describe("nats destination: end to end through the outbox", () => {
  it("a published event is delivered once the PubAck arrives; outbox.close() closes the connection", async () => {
    const { stream, subject } = await freshStream();
    const dest = nats({ servers: SERVERS, subject });
    const run = await running(dest);
    try {
      const record = await run.db.outbox.publishEvent({
        type: "order.created",
        source: "orders",
        data: { orderId: 1 },
        extensions: { tenant: "acme" },
        orderingKey: "order-1",
      });
      const stored = await settled(run.db, record.id, "published");
      expect(stored.deliveries).toEqual([expect.objectContaining({ name: `nats:${subject}`, status: "delivered", attempts: 1 })]);
      const [m] = await readAll(stream, 1);
      expect(m.headers).toMatchObject({ "ce-id": record.id, "Nats-Msg-Id": record.id, "ce-tenant": "acme", "ce-partitionkey": "order-1" });
      expect(JSON.parse(m.data)).toEqual({ orderId: 1 });
    } finally {
      await run.stop();
    }
    await expect(dest.deliver(richEvent(), ctx())).rejects.toThrow(/closed/);
  });

  it("a missing stream leaves the delivery failed with a clear lastError after one attempt", async () => {
    const subject = `${unique("nostream")}.events`;
    const run = await running(nats({ servers: SERVERS, subject }));
    try {
      const record = await run.db.outbox.publishEvent({ type: "x.y", source: "t", data: {} });
      const stored = await settled(run.db, record.id, "failed");
      expect(stored.deliveries[0]).toMatchObject({ status: "failed", attempts: 1 });
      expect(stored.deliveries[0].lastError).toContain(`No JetStream stream captures subject "${subject}"`);
    } finally {
      await run.stop();
    }
  });
});
