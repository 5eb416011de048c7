// Dispatch throughput: pre-load events, start the worker, time until the database shows every event finished.
import { createServer, type Server } from "node:http";
import type { Peer, WorkerSetup } from "../peers/peer.ts";
import { until } from "../support.ts";

/** Events per second from worker start to the last outcome written, with `count` events waiting at start. */
export async function dispatchRate(peer: Peer, count: number, setup: WorkerSetup = {}, sink?: Sink): Promise<number> {
  await peer.reset();
  await peer.preload(count);
  if (sink) await warm(sink);
  let handled = 0;
  const before = sink?.received ?? 0;
  const seen = sink ? () => sink.received - before : () => handled;
  const started = performance.now();
  await peer.start(() => handled++, setup);
  try {
    await until(() => seen() >= count, `${count} events handled by ${peer.name}`, 300_000, 2);
    await until(async () => (await peer.unfinished()) === 0, `${peer.name} to write every outcome`, 60_000, 2);
    return count / ((performance.now() - started) / 1000);
  } finally {
    await peer.stop();
  }
}

/**
 * Opens fetch's keep-alive connections to the sink before timing: they live in one pool per process, and
 * whichever peer ran first would otherwise pay for connecting.
 */
async function warm(sink: Sink): Promise<void> {
  await Promise.all(Array.from({ length: 500 }, async () => {
    const res = await fetch(sink.url, { method: "POST", body: "{}" });
    await res.arrayBuffer();
  }));
}

/** A local HTTP endpoint that accepts every POST with 204 and keeps connections alive. */
export interface Sink {
  url: string;
  received: number;
  close(): Promise<void>;
}

/** Starts the webhook sink on an ephemeral port of 127.0.0.1. */
export async function startSink(): Promise<Sink> {
  const sink = { url: "", received: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      sink.received++;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  sink.url = `http://127.0.0.1:${port}/hook`;
  sink.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return sink;
}
