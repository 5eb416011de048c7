// Real HTTP servers standing in for the webhook endpoints of a scenario: one server (own port, so its own client
// connection pool, like a separate host) per destination, each with a behaviour (answer 204, hang, reset, 500, 429,
// 410, answer slowly), recording every request they saw.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { webhook } from "../../../adapters/webhook.ts";
import type { Destination } from "../../../src/destination.ts";

/** One request as the receiver saw it. */
export interface Arrival {
  dest: string;
  id: string;
  /** Local clock, ms: when the request arrived and when the answer went out (or the socket was dropped). */
  start: number;
  end: number;
  /** The status answered; 0 when the connection was reset or never answered. */
  status: number;
  /** `data.key` and `data.seq` of the event, when the scenario sets them. */
  orderingKey: string | null;
  seq: number | null;
  /** The `x-worker` header, when the scenario's destinations send one. */
  worker: string | null;
}

/** What an endpoint does with one request; call `answer(status)` to respond. */
export type Behaviour = (ctx: {
  req: IncomingMessage;
  res: ServerResponse;
  arrival: Arrival;
  /** How many requests this endpoint has seen, this one included. */
  n: number;
  answer(status: number, headers?: Record<string, string>, body?: string): void;
}) => void;

/** Answers 204 at once. */
export const healthy: Behaviour = ({ answer }) => answer(204);

export class Receiver {
  readonly arrivals: Arrival[] = [];
  readonly #servers: Server[] = [];
  readonly #behaviours: Record<string, Behaviour>;
  readonly #counts = new Map<string, number>();
  readonly #open = new Set<ServerResponse>();
  /** Endpoint name -> its URL. */
  readonly urls: Record<string, string> = {};

  private constructor(behaviours: Record<string, Behaviour>) {
    this.#behaviours = behaviours;
  }

  /** Starts one server per behaviour on ephemeral ports of 127.0.0.1. */
  static async start(behaviours: Record<string, Behaviour>): Promise<Receiver> {
    const r = new Receiver(behaviours);
    for (const name of Object.keys(behaviours)) {
      const server = createServer((req, res) => r.#handle(req, res));
      server.keepAliveTimeout = 30_000;
      r.#servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      r.urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`;
    }
    return r;
  }

  /** The endpoint names, which are also the destination names. */
  get names(): string[] {
    return Object.keys(this.#behaviours);
  }

  /** A webhook destination per endpoint (or the given ones), named after it. */
  destinations(names = this.names, timeoutMs = 10_000, headers?: Record<string, string>): Destination[] {
    return names.map((name) => webhook({ url: this.urls[name], name, timeoutMs, headers }));
  }

  /** Requests answered 2xx, per endpoint, per event id. */
  accepted(dest: string): Map<string, Arrival[]> {
    const out = new Map<string, Arrival[]>();
    for (const a of this.arrivals) {
      if (a.dest !== dest || a.status < 200 || a.status >= 300) continue;
      const list = out.get(a.id);
      if (list) list.push(a);
      else out.set(a.id, [a]);
    }
    return out;
  }

  /** Distinct event ids answered 2xx at an endpoint. */
  acceptedCount(dest: string): number {
    return this.accepted(dest).size;
  }

  /** Requests to an endpoint, answered or not. */
  count(dest: string): number {
    return this.#counts.get(dest) ?? 0;
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy();
    await Promise.all(this.#servers.map((server) => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    }));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const dest = (req.url ?? "/").slice(1).split("?")[0];
    const behaviour = this.#behaviours[dest];
    // The request's time is when its headers arrived: reading the body can lag on a loaded machine, and the audit
    // compares this time with when the delivery was recorded.
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = (this.#counts.get(dest) ?? 0) + 1;
      this.#counts.set(dest, n);
      let seq: number | null = null;
      let key: string | null = null;
      try {
        const data = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { seq?: number; key?: string };
        seq = typeof data?.seq === "number" ? data.seq : null;
        key = typeof data?.key === "string" ? data.key : null;
      } catch {
        // not every scenario sends a sequence number
      }
      const arrival: Arrival = {
        dest,
        id: String(req.headers["ce-id"] ?? ""),
        start: receivedAt,
        end: 0,
        status: 0,
        orderingKey: key,
        worker: (req.headers["x-worker"] as string | undefined) ?? null,
        seq,
      };
      this.arrivals.push(arrival);
      if (!behaviour) {
        arrival.status = 404;
        arrival.end = Date.now();
        res.writeHead(404).end();
        return;
      }
      this.#open.add(res);
      res.on("close", () => {
        this.#open.delete(res);
        if (!arrival.end) arrival.end = Date.now();
      });
      behaviour({
        req,
        res,
        arrival,
        n,
        answer(status, headers = {}, body = "") {
          if (res.destroyed || res.writableEnded) return;
          arrival.status = status;
          arrival.end = Date.now();
          res.writeHead(status, headers).end(body);
        },
      });
    });
  }
}
