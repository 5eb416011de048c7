// The Redis Streams destination against the machine's redis-server (127.0.0.1:6379): every entry is read back with
// XRANGE by an independent node-redis client.
import { CloudEvent } from "cloudevents";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisStream } from "../adapters/redis.ts";
import type { Destination } from "../src/destination.ts";
import { DispatchError } from "../src/errors.ts";
import { closedPort, ctx, rejection, richAttributes, richEvent, running, settled, unique } from "./support/brokers.ts";

const URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const reader = createClient({ url: URL });
const cleanup: Array<() => Promise<unknown>> = [];

function freshStream(): string {
  const stream = unique("pgd:events:");
  cleanup.push(() => reader.del(stream));
  return stream;
}

async function entries(stream: string): Promise<Array<Record<string, string>>> {
  const got = (await reader.xRange(stream, "-", "+")) ?? [];
  return got.map((e) => ({ ...e?.message }) as Record<string, string>);
}

function destination(options: Parameters<typeof redisStream>[0]): Destination {
  const dest = redisStream(options);
  cleanup.push(() => dest.close?.() ?? Promise.resolve());
  return dest;
}

beforeAll(async () => {
  reader.on("error", () => undefined);
  await reader.connect();
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await reader.close();
});

describe("redisStream destination: ce_ fields, content-type and data", () => {
  it("appends every attribute as ce_<name>, the content type and the data", async () => {
    const stream = freshStream();
    const dest = destination({ url: URL, stream });
    const event = richEvent();
    const text = new CloudEvent({ type: "note.added", source: "/notes", datacontenttype: "text/plain", data: "line one\nline two" });
    const empty = new CloudEvent({ type: "ping", source: "/health" });
    for (const e of [event, text, empty]) await dest.deliver(e, ctx());

    const [a, b, c] = await entries(stream);
    const expected = Object.fromEntries(Object.entries(richAttributes(event)).map(([k, v]) => [`ce_${k}`, v]));
    expect(a).toEqual({ ...expected, "content-type": "application/json", data: JSON.stringify(event.data) });
    expect(b["content-type"]).toBe("text/plain");
    expect(b.data).toBe("line one\nline two");
    expect(c.ce_type).toBe("ping");
    expect(c["content-type"]).toBeUndefined();
    expect(c.data).toBeUndefined();
  });

  it("sends the ordering key as ce_partitionkey, in publish order; a re-sent event is a second entry with the same ce_id", async () => {
    const stream = freshStream();
    const dest = destination({ url: URL, stream });
    const sent: CloudEvent<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      const e = new CloudEvent<unknown>({ type: "account.changed", source: "/accounts", data: { i } });
      sent.push(e);
      await dest.deliver(e, ctx("account-7"));
    }
    await dest.deliver(sent[0], ctx("account-7"));
    const got = await entries(stream);
    expect(got.map((m) => m.ce_id)).toEqual([...sent.map((e) => e.id), sent[0].id]);
    expect(new Set(got.map((m) => m.ce_partitionkey))).toEqual(new Set(["account-7"]));
  });

  it("trims with maxLen", async () => {
    const stream = freshStream();
    const dest = destination({ url: URL, stream, maxLen: 1 });
    // MAXLEN ~ trims whole radix-tree nodes (100 entries by default), so write past one.
    for (let i = 0; i < 250; i++) await dest.deliver(new CloudEvent({ type: "t", source: "s", data: { i } }), ctx());
    expect(await reader.xLen(stream)).toBeLessThan(250);
  });
});

describe("redisStream destination: outcomes", () => {
  it("with createStream: false, a missing stream fails for good, naming the stream and the fix", async () => {
    const stream = freshStream();
    const err = await rejection(destination({ url: URL, stream, createStream: false }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(`Redis stream "${stream}" does not exist and the destination was made with createStream: false`);
  });

  it("a key of another type fails for good (WRONGTYPE)", async () => {
    const stream = freshStream();
    await reader.set(stream, "a string");
    const err = await rejection(destination({ url: URL, stream }).deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain(`Redis refused XADD to stream "${stream}": WRONGTYPE`);
  });

  it("a server that is down is retried, not failed for good", async () => {
    const port = await closedPort();
    const dest = destination({ url: `redis://127.0.0.1:${port}`, stream: "events" });
    const err = await rejection(dest.deliver(richEvent(), ctx()));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`Could not connect to Redis at redis://127.0.0.1:${port}`);
  });

  it("refuses bad options at once, naming the field", () => {
    expect(() => redisStream({ url: "http://x", stream: "s" })).toThrow(/url must be a redis:\/\//);
    expect(() => redisStream({ url: URL, stream: "" })).toThrow(/needs a stream/);
    expect(() => redisStream({ url: URL, stream: "s", maxLen: 0 })).toThrow(/maxLen/);
    expect(() => redisStream({ url: URL, stream: "s", topic: "x" } as never)).toThrow(DispatchError);
  });
});

describe("redisStream destination: end to end through the outbox", () => {
  it("a published event is delivered once XADD answers; outbox.close() closes the connection", async () => {
    const stream = freshStream();
    const dest = redisStream({ url: URL, stream });
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
      expect(stored.deliveries).toEqual([expect.objectContaining({ name: `redis:${stream}`, status: "delivered", attempts: 1 })]);
      const [m] = await entries(stream);
      expect(m).toMatchObject({ ce_id: record.id, ce_source: "orders", ce_tenant: "acme", ce_partitionkey: "order-1" });
      expect(JSON.parse(m.data)).toEqual({ orderId: 1 });
    } finally {
      await run.stop();
    }
    await expect(dest.deliver(richEvent(), ctx())).rejects.toThrow(/closed/);
  });
});
