// Shared by the broker destination tests (NATS, RabbitMQ, Redis, MQTT): a delivery context, a port where nothing
// listens, and the end-to-end check that an event published to an outbox is delivered through the worker.
import { createServer } from "node:net";
import { CloudEvent } from "cloudevents";
import { expect } from "vitest";
import type { DeliveryContext, Destination } from "../../src/destination.ts";
import { DeliveryError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import { type TestOutbox, testOutbox, waitFor } from "./db.ts";

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function ctx(orderingKey?: string, timeoutMs = 15_000): DeliveryContext {
  return { signal: AbortSignal.timeout(timeoutMs), attempt: 1, destination: "test", logger: silent, orderingKey };
}

/** A unique suffix for stream, queue and topic names, so parallel runs never share them. */
export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** A port on 127.0.0.1 that nothing listens on (taken from the OS, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** An event with every kind of attribute: subject, dataschema, a fixed time, three extensions, JSON data. */
export function richEvent(): CloudEvent<unknown> {
  return new CloudEvent<unknown>({
    type: "order.created",
    source: "/orders",
    subject: "Order #456 ✓",
    dataschema: "https://example.com/schemas/order",
    time: "2024-05-01T12:00:00.123Z",
    data: { orderId: 456, total: 12.5, note: "é ✓" },
    tenant: "acme",
    priority: 3,
    urgent: true,
  });
}

/** What richEvent() carries as attributes, by name, as canonical strings. */
export function richAttributes(event: CloudEvent<unknown>): Record<string, string> {
  return {
    id: event.id,
    source: "/orders",
    specversion: "1.0",
    type: "order.created",
    subject: "Order #456 ✓",
    time: "2024-05-01T12:00:00.123Z",
    dataschema: "https://example.com/schemas/order",
    tenant: "acme",
    priority: "3",
    urgent: "true",
  };
}

export interface Running {
  db: TestOutbox;
  stop(): Promise<void>;
}

/** An outbox with `destination` registered for every type and a worker running; stop() closes both and drops it. */
export async function running(destination: Destination, workerOptions: object = {}, outboxOptions: object = {}): Promise<Running> {
  const db = await testOutbox(outboxOptions);
  db.outbox.register("*", destination);
  const worker = db.outbox.worker(workerOptions);
  await worker.start();
  return {
    db,
    async stop() {
      await worker.stop();
      await db.outbox.close();
      await db.drop();
    },
  };
}

/** Waits until the event reaches `status` and returns it as getEvent() does. */
export async function settled(db: TestOutbox, id: string, status: "published" | "failed", timeoutMs = 20_000) {
  return await waitFor(async () => {
    const event = await db.outbox.getEvent(id);
    return event?.status === status ? event : undefined;
  }, `event ${id} to be ${status}`, timeoutMs);
}
