import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { CloudEvent, HTTP } from "cloudevents";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { webhook } from "../adapters/webhook.ts";
import { percentEncode } from "../adapters/webhook/binding.ts";
import { MAX_RETRY_AFTER_MS } from "../adapters/retry-after.ts";
import type { DeliveryContext, Destination } from "../src/destination.ts";
import { DeliveryError, DispatchError } from "../src/errors.ts";
import { testOutbox, waitFor } from "./support/db.ts";

// ---------------------------------------------------------------------------------------------------------------
// A real HTTP receiver on 127.0.0.1 that records every request and counts TCP connections.

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  connections: number;
  close(): Promise<void>;
}

type Respond = (req: Received, res: ServerResponse) => void;

const open: Receiver[] = [];

async function receiver(respond: Respond = (_req, res) => res.writeHead(200).end()): Promise<Receiver> {
  const requests: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const got = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      requests.push(got);
      respond(got, res);
    });
  });
  const r: Receiver = {
    url: "",
    port: 0,
    requests,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("connection", () => r.connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  open.push(r);
  return r;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** How the webhook shows a URL in names, errors and logs: the origin and a fingerprint of the path, never the path. */
function shown(url: string): string {
  const u = new URL(url);
  return `${u.origin}/…#${createHash("sha256").update(u.origin + u.pathname).digest("hex").slice(0, 8)}`;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function ctx(dest: Destination, signal: AbortSignal = new AbortController().signal, attempt = 1): DeliveryContext {
  return { signal, attempt, destination: dest.name, logger: silent };
}

async function deliverError(dest: Destination, event: CloudEvent<unknown>, signal?: AbortSignal): Promise<DeliveryError> {
  try {
    await dest.deliver(event, ctx(dest, signal));
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error("expected the delivery to fail");
}

/** Strips a header record down to strings, as an HTTP framework hands them over. */
function flat(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === "string") out[k] = v;
  return out;
}

/** A receiver following the CloudEvents HTTP binding: percent-decode `ce-*` values, then parse with the SDK. */
function parseBinary(got: Received): CloudEvent<unknown> {
  const headers = flat(got.headers);
  for (const k of Object.keys(headers)) if (k.startsWith("ce-")) headers[k] = decodeURIComponent(headers[k]);
  return HTTP.toEvent({ headers, body: got.body === "" ? undefined : got.body }) as CloudEvent<unknown>;
}

const TRICKY = 'Order #456 — 100% "done" ünï 日本 ✓';

function sampleEvent(extra: Record<string, unknown> = {}): CloudEvent<unknown> {
  return new CloudEvent<unknown>({
    id: "evt-0001",
    type: "order.completed",
    source: "https://shop.example/orders",
    subject: TRICKY,
    time: "2024-05-01T12:34:56.789Z",
    dataschema: "https://shop.example/schemas/order.json",
    datacontenttype: "application/json",
    data: { orderId: 456, items: ["a", "b"], note: "naïve café" },
    tenant: "acme corp",
    ...extra,
  });
}

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_2 = "whsec_" + Buffer.from("a second, rotated-in secret!!").toString("base64");

afterAll(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

// ---------------------------------------------------------------------------------------------------------------

describe("CloudEvents HTTP binding, binary mode (the default)", () => {
  it("sends every attribute as a ce- header that the CloudEvents SDK parses back", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    const event = sampleEvent();
    await dest.deliver(event, ctx(dest));

    expect(r.requests).toHaveLength(1);
    const got = r.requests[0];
    expect(got.method).toBe("POST");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["ce-specversion"]).toBe("1.0");
    // Space, double quote, percent and non-ASCII travel percent-encoded as UTF-8, the rest literally.
    expect(got.headers["ce-subject"]).toBe(
      "Order%20#456%20%E2%80%94%20100%25%20%22done%22%20%C3%BCn%C3%AF%20%E6%97%A5%E6%9C%AC%20%E2%9C%93",
    );
    expect(got.headers["ce-tenant"]).toBe("acme%20corp");
    expect(JSON.parse(got.body)).toEqual(event.data);

    const parsed = parseBinary(got);
    expect(parsed.id).toBe(event.id);
    expect(parsed.type).toBe(event.type);
    expect(parsed.source).toBe(event.source);
    expect(parsed.specversion).toBe("1.0");
    expect(parsed.subject).toBe(TRICKY);
    expect(parsed.time).toBe(event.time);
    expect(parsed.dataschema).toBe(event.dataschema);
    expect(parsed.datacontenttype).toBe("application/json");
    expect(parsed.tenant).toBe("acme corp");
    expect(parsed.data).toEqual(event.data);
  });

  it("sends no body and no content type for an event without data", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(new CloudEvent({ id: "e2", type: "ping", source: "test" }), ctx(dest));
    const got = r.requests[0];
    expect(got.body).toBe("");
    expect(got.headers["content-type"]).toBeUndefined();
    expect(got.headers["ce-subject"]).toBeUndefined();
    const parsed = parseBinary(got);
    expect(parsed.id).toBe("e2");
    expect(parsed.data).toBeUndefined();
  });

  it("sends JSON null as the body null: data, not its absence (Pub/Sub sends the same bytes)", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(new CloudEvent({ id: "e3", type: "cleared", source: "test", data: null }), ctx(dest));
    expect(r.requests[0].body).toBe("null");
    expect(r.requests[0].headers["content-type"]).toBe("application/json");
  });

  it("sends a string as it is when datacontenttype is not JSON", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(
      new CloudEvent({ type: "note", source: "test", datacontenttype: "text/plain; charset=utf-8", data: "hé \"there\"" }),
      ctx(dest),
    );
    expect(r.requests[0].headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(r.requests[0].body).toBe('hé "there"');
  });

  it("JSON-encodes data when datacontenttype is absent", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(new CloudEvent({ type: "n", source: "test", data: "just a string" }), ctx(dest));
    expect(r.requests[0].headers["content-type"]).toBe("application/json");
    expect(r.requests[0].body).toBe('"just a string"');
    expect(parseBinary(r.requests[0]).data).toBe("just a string");
  });

  it("percent-encodes exactly what the binding names and nothing else", () => {
    const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
      .filter((c) => c !== '"' && c !== "%")
      .join("");
    expect(percentEncode(printable)).toBe(printable);
    expect(percentEncode(' "%\t\n\u007f')).toBe("%20%22%25%09%0A%7F");
    expect(percentEncode("€")).toBe("%E2%82%AC");
    expect(decodeURIComponent(percentEncode(TRICKY))).toBe(TRICKY);
  });
});

describe("CloudEvents HTTP binding, structured mode", () => {
  it("sends the event as application/cloudevents+json that the CloudEvents SDK parses back", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, mode: "structured" });
    const event = sampleEvent();
    await dest.deliver(event, ctx(dest));

    const got = r.requests[0];
    expect(got.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    expect(got.headers["ce-id"]).toBeUndefined();
    const parsed = HTTP.toEvent({ headers: flat(got.headers), body: got.body }) as CloudEvent<unknown>;
    for (const attr of ["id", "type", "source", "specversion", "subject", "time", "dataschema", "datacontenttype", "tenant"]) {
      expect(parsed[attr], attr).toBe(event[attr]);
    }
    expect(parsed.data).toEqual(event.data);
  });
});

describe("Standard Webhooks signatures", () => {
  it("are accepted by the standardwebhooks verifier, with webhook-id = event id on every attempt", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET });
    const event = sampleEvent();
    await dest.deliver(event, ctx(dest));
    await dest.deliver(event, ctx(dest, undefined, 2));

    for (const got of r.requests) {
      expect(got.headers["webhook-id"]).toBe(event.id);
      const ts = Number(got.headers["webhook-timestamp"]);
      expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
      expect(got.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(new Webhook(SECRET).verify(got.body, flat(got.headers))).toEqual(event.data);
    }
  });

  it("sign structured bodies and bodiless events too", async () => {
    const r = await receiver();
    const structured = webhook({ url: r.url, secret: SECRET, mode: "structured" });
    await structured.deliver(sampleEvent(), ctx(structured));
    const binary = webhook({ url: r.url, secret: SECRET });
    await binary.deliver(new CloudEvent({ id: "no-data", type: "ping", source: "test" }), ctx(binary));
    const verifier = new Webhook(SECRET);
    expect(verifier.verify(r.requests[0].body, flat(r.requests[0].headers))).toMatchObject({ id: "evt-0001" });
    expect(verifier.verify(r.requests[1].body, flat(r.requests[1].headers))).toBeUndefined();
  });

  it("carry one signature per secret while rotating, each verifiable alone", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: [SECRET, SECRET_2] });
    await dest.deliver(sampleEvent(), ctx(dest));
    const got = r.requests[0];
    expect(String(got.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(() => new Webhook(SECRET).verify(got.body, flat(got.headers))).not.toThrow();
    expect(() => new Webhook(SECRET_2).verify(got.body, flat(got.headers))).not.toThrow();
  });

  it("fail verification with a different secret or a tampered body", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET });
    await dest.deliver(sampleEvent(), ctx(dest));
    const got = r.requests[0];
    const other = "whsec_" + Buffer.from("not the secret that signed it").toString("base64");
    expect(() => new Webhook(other).verify(got.body, flat(got.headers))).toThrow(/No matching signature/);
    expect(() => new Webhook(SECRET).verify(got.body + " ", flat(got.headers))).toThrow(/No matching signature/);
  });

  it("treat a secret without the whsec_ prefix as base64, as the reference verifier does", async () => {
    const r = await receiver();
    const bare = SECRET.slice("whsec_".length);
    const dest = webhook({ url: r.url, secret: bare });
    await dest.deliver(sampleEvent(), ctx(dest));
    expect(() => new Webhook(bare).verify(r.requests[0].body, flat(r.requests[0].headers))).not.toThrow();
  });

  it("send no signing headers without a secret", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(sampleEvent(), ctx(dest));
    expect(r.requests[0].headers["webhook-signature"]).toBeUndefined();
  });
});

describe("outcome rules", () => {
  function status(code: number, body = "", headers: Record<string, string> = {}): Respond {
    return (_req, res) => res.writeHead(code, headers).end(body);
  }

  it("2xx is delivered: 200 and 204", async () => {
    for (const code of [200, 204]) {
      const r = await receiver(status(code));
      const dest = webhook({ url: r.url });
      await expect(dest.deliver(sampleEvent(), ctx(dest))).resolves.toEqual({ status: code });
      expect(r.requests).toHaveLength(1);
    }
  });

  it("301 is a permanent failure and the redirect is not followed", async () => {
    const elsewhere = await receiver();
    const r = await receiver(status(301, "moved", { location: elsewhere.url }));
    const dest = webhook({ url: r.url });
    const err = await deliverError(dest, sampleEvent());
    expect(err.permanent).toBe(true);
    expect(err.message).toBe(
      `HTTP 301 from ${shown(r.url)}: the endpoint redirected to ${shown(elsewhere.url)}; ` +
        "redirects are not followed, so configure the webhook with the final URL",
    );
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("400 is permanent and lastError quotes a bounded snippet of the body", async () => {
    const body = `{"error":   "bad\n payload"} ${"x".repeat(5000)}`;
    const r = await receiver(status(400, body));
    const err = await deliverError(webhook({ url: r.url }), sampleEvent());
    expect(err.permanent).toBe(true);
    expect(err.code).toBe("delivery_failed_permanently");
    expect(err.message.startsWith(`HTTP 400 from ${shown(r.url)}: {"error": "bad payload"} xxx`)).toBe(true);
    expect(err.message.length).toBeLessThanOrEqual(`HTTP 400 from ${shown(r.url)}: `.length + 200);
    expect(err.message.endsWith("…")).toBe(true);
  });

  it("410 is permanent", async () => {
    const r = await receiver(status(410, "gone"));
    const err = await deliverError(webhook({ url: r.url }), sampleEvent());
    expect(err.permanent).toBe(true);
    expect(err.message).toBe(`HTTP 410 from ${shown(r.url)}: gone`);
  });

  it("408 is retried", async () => {
    const r = await receiver(status(408));
    const err = await deliverError(webhook({ url: r.url }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.message).toBe(`HTTP 408 from ${shown(r.url)}`);
  });

  it("429 is retried after Retry-After in seconds", async () => {
    const r = await receiver(status(429, "slow down", { "retry-after": "120" }));
    const err = await deliverError(webhook({ url: r.url }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(120_000);
    expect(err.message).toBe(`HTTP 429 from ${shown(r.url)}: slow down`);
  });

  it("429 is retried after Retry-After as an HTTP date", async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const r = await receiver(status(429, "", { "retry-after": at }));
    const err = await deliverError(webhook({ url: r.url }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBeGreaterThan(27_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it("Retry-After is capped at one hour, and a date in the past means now", async () => {
    const r = await receiver(status(503, "", { "retry-after": String(7 * 24 * 3600) }));
    expect((await deliverError(webhook({ url: r.url }), sampleEvent())).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    const past = await receiver(status(503, "", { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" }));
    expect((await deliverError(webhook({ url: past.url }), sampleEvent())).retryAfterMs).toBe(0);
  });

  it("500 is retried and lastError carries the body", async () => {
    const r = await receiver(status(500, "database on fire"));
    const err = await deliverError(webhook({ url: r.url + "?token=hunter2" }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.code).toBe("delivery_failed");
    expect(err.retryAfterMs).toBeUndefined();
    // The query string can carry credentials, so it never reaches lastError.
    expect(err.message).toBe(`HTTP 500 from ${shown(r.url)}: database on fire`);
  });

  it("a hang past the timeout is retried", async () => {
    const r = await receiver(() => {}); // never answers
    const started = Date.now();
    const err = await deliverError(webhook({ url: r.url, timeoutMs: 200 }), sampleEvent());
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(`No response from ${shown(r.url)} within 200 ms`);
  });

  it("a body that trickles past the timeout is cut off too", async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(500);
      res.write("partial");
    });
    const err = await deliverError(webhook({ url: r.url, timeoutMs: 300 }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(`HTTP 500 from ${shown(r.url)}: partial`);
  });

  it("the worker's abort signal stops a request in flight", async () => {
    const r = await receiver(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("worker stopping")), 100);
    const err = await deliverError(webhook({ url: r.url }), sampleEvent(), controller.signal);
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(`Delivery to ${shown(r.url)} was aborted: worker stopping`);
  });

  it("connection refused is retried", async () => {
    const r = await receiver();
    const url = r.url;
    await r.close();
    const err = await deliverError(webhook({ url }), sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(new RegExp(`^Could not reach ${escape(shown(url))}: .*ECONNREFUSED`));
  });
});

describe("headers and authorization", () => {
  it("adds static headers, per-event headers and a bearer token", async () => {
    const r = await receiver();
    const fixed = webhook({ url: r.url, headers: { "x-team": "orders", "user-agent": "shop/1" }, bearerToken: "t0k3n" });
    await fixed.deliver(sampleEvent(), ctx(fixed));
    expect(r.requests[0].headers).toMatchObject({ "x-team": "orders", "user-agent": "shop/1", authorization: "Bearer t0k3n" });

    let calls = 0;
    const dynamic = webhook({
      url: r.url,
      headers: (event) => ({ "x-tenant": String(event.tenant) }),
      bearerToken: async () => `fresh-${++calls}`,
    });
    await dynamic.deliver(sampleEvent(), ctx(dynamic));
    await dynamic.deliver(sampleEvent(), ctx(dynamic));
    expect(r.requests[1].headers).toMatchObject({ "x-tenant": "acme corp", authorization: "Bearer fresh-1" });
    expect(r.requests[2].headers.authorization).toBe("Bearer fresh-2");
  });

  it("refuses per-event headers that would replace the webhook's own", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET, headers: () => ({ "webhook-signature": "v1,forged" }) });
    const err = await deliverError(dest, sampleEvent());
    expect(err.permanent).toBe(true);
    expect(err.message).toBe(
      `The headers function of webhook ${shown(r.url)}: header "webhook-signature" is set by the webhook itself and cannot be overridden.`,
    );
    expect(r.requests).toHaveLength(0);
  });

  it("fails for good an event whose data cannot be encoded, without sending anything", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    const err = await deliverError(dest, new CloudEvent({ type: "big", source: "test", data: { n: 1n } }, false));
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(new RegExp(`^Cannot build the request to ${escape(shown(r.url))}: .*BigInt`));
    expect(r.requests).toHaveLength(0);
  });

  it("retries when the token function throws", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, bearerToken: () => Promise.reject(new Error("token service down")) });
    const err = await deliverError(dest, sampleEvent());
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(`The bearerToken function of webhook ${shown(r.url)} threw: token service down`);
  });
});

describe("options", () => {
  it("names the destination after the endpoint by default, its path hidden behind a stable fingerprint", () => {
    // The fingerprint is the first 8 hex digits of SHA-256 of origin + path, the same in every process and runtime.
    const sha = createHash("sha256").update("https://hooks.example.com/in").digest("hex").slice(0, 8);
    expect(webhook({ url: "https://hooks.example.com/in?key=secret" }).name).toBe(`webhook:https://hooks.example.com/…#${sha}`);
    expect(webhook({ url: "https://hooks.example.com/in" }).name).toBe(`webhook:https://hooks.example.com/…#${sha}`);
    expect(webhook({ url: "https://hooks.example.com/other" }).name).not.toBe(`webhook:https://hooks.example.com/…#${sha}`);
    expect(webhook({ url: "https://h.example" }).name).toBe("webhook:https://h.example/");
    expect(webhook({ url: new URL("http://h.example"), name: "crm" }).name).toBe("crm");
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["an unknown key", { url: "https://h.example", retries: 3 }, /Unknown option "retries" in webhook options; expected one of: url, secret, mode/],
    ["a missing url", {}, /url must be an absolute http\(s\) URL/],
    ["a relative url", { url: "/hook" }, /url must be an absolute http\(s\) URL/],
    ["a non-http url", { url: "ftp://h.example/x" }, /url must use http or https, got "ftp:"/],
    ["credentials in the url", { url: "https://u:p@h.example" }, /must not contain credentials/],
    ["a zero timeout", { url: "https://h.example", timeoutMs: 0 }, /timeoutMs must be a positive number/],
    ["a negative timeout", { url: "https://h.example", timeoutMs: -5 }, /timeoutMs must be a positive number/],
    ["a NaN timeout", { url: "https://h.example", timeoutMs: Number.NaN }, /timeoutMs must be a positive number/],
    ["an unknown mode", { url: "https://h.example", mode: "batch" }, /mode must be "binary" or "structured"/],
    ["an unknown contentTypes", { url: "https://h.example", contentTypes: "xml" }, /contentTypes must be "any" or "json", got "xml"/],
    ["a secret that is not base64", { url: "https://h.example", secret: "whsec_not base64!" }, /secret must be standard base64/],
    ["an empty secret", { url: "https://h.example", secret: "" }, /secret is empty: set the variable it comes from .*or leave the secret option out to send unsigned requests deliberately/],
    ["an undefined secret", { url: "https://h.example", secret: undefined }, /secret is undefined: set the variable it comes from \(e\.g\. WEBHOOK_SECRET\), or leave the secret option out/],
    ["an empty secret list", { url: "https://h.example", secret: [] }, /non-empty array/],
    ["a bare whsec_ prefix", { url: "https://h.example", secret: "whsec_" }, /secret must be standard base64/],
    ["an empty name", { url: "https://h.example", name: " " }, /name must be a non-empty string/],
    ["an empty bearer token", { url: "https://h.example", bearerToken: "" }, /bearerToken must be a non-empty string/],
    ["a reserved header", { url: "https://h.example", headers: { "Content-Type": "text/plain" } }, /"Content-Type" is set by the webhook/],
    ["a ce- header", { url: "https://h.example", headers: { "ce-id": "x" } }, /"ce-id" is set by the webhook/],
    ["authorization beside bearerToken", { url: "https://h.example", bearerToken: "t", headers: { Authorization: "x" } }, /"Authorization" is set/],
    ["a non-string header", { url: "https://h.example", headers: { "x-n": 1 } }, /header "x-n" must be a string/],
    ["an invalid header value", { url: "https://h.example", headers: { "x-a": "line\nbreak" } }, /header "x-a" has a value with CR, LF or NUL/],
  ];
  it.each(bad)("refuses %s with invalid_option", (_label, options, message) => {
    let caught: unknown;
    try {
      webhook(options as Parameters<typeof webhook>[0]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DispatchError);
    expect((caught as DispatchError).code).toBe("invalid_option");
    expect((caught as DispatchError).message).toMatch(message);
    expect((caught as DispatchError).message).toMatch(/^webhook: |in webhook options/);
  });

  it("allows an Authorization header when no bearerToken is set", () => {
    expect(() => webhook({ url: "https://h.example", headers: { Authorization: "Basic eDp5" } })).not.toThrow();
  });
});

describe("webhook-id: any event id is deliverable and verifiable", () => {
  // fetch trims a header's edge spaces (the signature covered the untrimmed id) and cannot send a character above
  // U+00FF at all, so the id goes out percent-encoded, as ce-id does, and the signature covers exactly that.
  const ids = [" leading-space", "trailing-space ", "日本-1", "emoji-😀", 'pct%20"quoted" id', "plain-uuid-0001"];
  it.each(ids)("signs and sends id %j so that the standardwebhooks verifier accepts it", async (id) => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET });
    await dest.deliver(new CloudEvent({ id, type: "t", source: "s", data: { id } }), ctx(dest));
    const got = r.requests[0];
    expect(new Webhook(SECRET).verify(got.body, flat(got.headers))).toEqual({ id });
    expect(got.headers["webhook-id"]).toBe(got.headers["ce-id"]);
    expect(decodeURIComponent(String(got.headers["webhook-id"]))).toBe(id);
    if (id === "plain-uuid-0001") expect(got.headers["webhook-id"]).toBe(id);
  });

  it("keeps two ids that differ only by encoding apart", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET });
    for (const id of [" a", "%20a"]) await dest.deliver(new CloudEvent({ id, type: "t", source: "s" }), ctx(dest));
    expect(r.requests[0].headers["webhook-id"]).not.toBe(r.requests[1].headers["webhook-id"]);
  });
});

describe("contentTypes: which datacontenttype a webhook sends", () => {
  function typed(datacontenttype: string | undefined, data: unknown): CloudEvent<unknown> {
    return new CloudEvent<unknown>({ type: "t", source: "s", data, ...(datacontenttype ? { datacontenttype } : {}) }, false);
  }

  it('with contentTypes: "json", refuses other types for good without sending, and sends JSON types', async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url, secret: SECRET, contentTypes: "json" });
    for (const [type, data] of [
      ["application/x-www-form-urlencoded", "role=admin&user=1"],
      ["application/xml", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'],
      ["multipart/form-data; boundary=x", "--x\r\n\r\n--x--"],
      ["text/plain", "hi"],
    ] as const) {
      const err = await deliverError(dest, typed(type, data));
      expect(err.permanent).toBe(true);
      expect(err.message).toBe(
        `Webhook ${shown(r.url)} sends JSON only (contentTypes: "json") and this event's datacontenttype is ${JSON.stringify(type)}; ` +
          'publish it as application/json, or set contentTypes: "any" if the receiver expects other types',
      );
    }
    expect(r.requests).toHaveLength(0);
    for (const type of ["application/json", "application/vnd.order+json; charset=utf-8", "text/json", undefined]) {
      await dest.deliver(typed(type, { ok: 1 }), ctx(dest));
    }
    expect(r.requests.map((q) => q.headers["content-type"])).toEqual([
      "application/json",
      "application/vnd.order+json; charset=utf-8",
      "text/json",
      "application/json",
    ]);
  });

  it("by default sends the publisher's type, but never a CloudEvents envelope type in binary mode", async () => {
    const r = await receiver();
    const dest = webhook({ url: r.url });
    await dest.deliver(typed("application/xml", "<x/>"), ctx(dest));
    expect(r.requests[0].headers["content-type"]).toBe("application/xml");
    // A receiver reads an application/cloudevents+json body as a whole event: the publisher would choose its id,
    // type and source, under a valid signature.
    const forged = { specversion: "1.0", id: "forged", type: "admin.granted", source: "billing" };
    const err = await deliverError(dest, typed("application/cloudevents+json", forged));
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/in binary mode: the receiver would read its data as a CloudEvent of its own/);
    expect(r.requests).toHaveLength(1);
    const structured = webhook({ url: r.url, mode: "structured" });
    await structured.deliver(typed("application/cloudevents+json", forged), ctx(structured));
    expect(JSON.parse(r.requests[1].body)).toMatchObject({ datacontenttype: "application/cloudevents+json", data: forged });
  });
});

describe("header values never reach an error message", () => {
  const TOKEN = "s3cr3t-t0k3n-value";
  function refusal(options: Parameters<typeof webhook>[0]): DispatchError {
    try {
      webhook(options);
    } catch (err) {
      expect(err).toBeInstanceOf(DispatchError);
      return err as DispatchError;
    }
    throw new Error("expected webhook() to refuse the options");
  }

  it("refuses at construction a header or bearer token HTTP cannot carry, naming the header, not quoting it", () => {
    for (const bad of [`Bearer ${TOKEN}\r\nx-injected: 1`, `${TOKEN}\u0000`, `${TOKEN}\n`]) {
      const err = refusal({ url: "https://h.example", headers: { Authorization: bad } });
      expect(err.code).toBe("invalid_option");
      expect(err.message).toBe('webhook: header "Authorization" has a value with CR, LF or NUL, which HTTP cannot carry; remove them.');
      const viaToken = refusal({ url: "https://h.example", bearerToken: bad });
      expect(viaToken.message).toMatch(/^webhook: header "Authorization" \(from bearerToken\) has a value with CR, LF or NUL/);
      expect(viaToken.message).not.toContain(TOKEN);
    }
    const wide = refusal({ url: "https://h.example", headers: { "x-key": `${TOKEN}€` } });
    expect(wide.message).toBe(
      'webhook: header "x-key" has a value with a character above U+00FF, which HTTP header values cannot carry; percent-encode or base64 it.',
    );
    expect(refusal({ url: "https://h.example", headers: { "bad name": "v" } }).message).toBe(
      'webhook: header "bad name" is not a valid HTTP header name.',
    );
  });

  it("fails a bad per-attempt token or per-event header without quoting it, and sends nothing", async () => {
    const r = await receiver();
    const token = webhook({ url: r.url, bearerToken: () => `${TOKEN}\r\n` });
    const tokenErr = await deliverError(token, sampleEvent());
    expect(tokenErr.permanent).toBe(false);
    expect(tokenErr.message).toBe(
      `The bearerToken function of webhook ${shown(r.url)} returned a bad token: header "Authorization" (from bearerToken) ` +
        "has a value with CR, LF or NUL, which HTTP cannot carry; remove them.",
    );
    const perEvent = webhook({ url: r.url, headers: () => ({ "x-api-key": `${TOKEN}\u0000` }) });
    const headerErr = await deliverError(perEvent, sampleEvent());
    expect(headerErr.permanent).toBe(true);
    expect(headerErr.message).not.toContain(TOKEN);
    expect(headerErr.message).toMatch(/header "x-api-key" has a value with CR, LF or NUL/);
    const contentType = await deliverError(
      webhook({ url: r.url }),
      new CloudEvent({ type: "t", source: "s", datacontenttype: `text/plain\r\nx: ${TOKEN}`, data: "x" }, false),
    );
    expect(contentType.permanent).toBe(true);
    expect(contentType.message).toBe(
      `Cannot build the request to ${shown(r.url)}: header "content-type" (from the event's datacontenttype) has a value ` +
        "with CR, LF or NUL, which HTTP cannot carry; remove them.",
    );
    expect(r.requests).toHaveLength(0);
  });

  it("redacts configured credentials a receiver echoes back in its error body", async () => {
    const r = await receiver((req, res) => res.writeHead(401).end(`bad credentials: ${req.headers.authorization} / ${req.headers["x-api-key"]} at ${req.url}`));
    const url = r.url.replace(/\/hook$/, "/services/T0001/B0002/xoxbSECRETPATHTOKEN0123");
    const dest = webhook({ url, bearerToken: () => TOKEN, headers: { "x-api-key": "static-api-key-123" } });
    const err = await deliverError(dest, sampleEvent());
    expect(err.message).toBe(`HTTP 401 from ${shown(url)}: bad credentials: Bearer [redacted] / [redacted] at [redacted]`);
  });
});

describe("types: optional options accept undefined (exactOptionalPropertyTypes)", () => {
  it("type-checks webhook() and pubsub() options built from possibly-unset variables", async () => {
    const { execFileSync } = await import("node:child_process");
    const tsc = new URL("../node_modules/.bin/tsc", import.meta.url).pathname;
    const fixture = new URL("./fixtures/exact-optional-options.ts", import.meta.url).pathname;
    const args = [
      "--ignoreConfig", "--noEmit", "--strict", "--exactOptionalPropertyTypes", "--skipLibCheck", "--target", "ES2022", "--module", "NodeNext",
      "--moduleResolution", "NodeNext", "--allowImportingTsExtensions", "--lib", "ES2023,DOM", "--types", "node", fixture,
    ];
    let output = "";
    try {
      execFileSync(tsc, args, { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    // The user's side: errors inside pg-dispatch's own sources are another matter (their own tsconfig checks them).
    expect(output.split("\n").filter((line) => line.includes("exact-optional-options.ts"))).toEqual([]);
  }, 60_000);
});

describe("connection reuse", () => {
  // Bodies past ~16 KiB pin an undici connection until they are read (cancelling one closes it), so these tests
  // fail when the webhook leaves response bodies unread.
  const LARGE = "ok ".repeat(11_000);

  it("sends 50 sequential deliveries over a handful of connections", async () => {
    const r = await receiver((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(LARGE));
    const dest = webhook({ url: r.url, secret: SECRET });
    for (let i = 0; i < 50; i++) await dest.deliver(sampleEvent({ id: `reuse-${i}` }), ctx(dest));
    expect(r.requests).toHaveLength(50);
    expect(r.connections).toBeLessThanOrEqual(2);
  });

  it("reuses connections after error responses too", async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end(LARGE));
    const dest = webhook({ url: r.url });
    for (let i = 0; i < 20; i++) await deliverError(dest, sampleEvent());
    expect(r.requests).toHaveLength(20);
    expect(r.connections).toBeLessThanOrEqual(2);
  });
});

describe("independent destinations: fan-out through the worker (real PostgreSQL)", () => {
  it("retries only the failing endpoint; the healthy one sees the event exactly once", async () => {
    const healthy = await receiver();
    let recovered = false;
    const flaky = await receiver((_req, res) => {
      if (recovered) res.writeHead(200).end();
      else res.writeHead(500).end("down for maintenance");
    });
    const t = await testOutbox({ retry: { maxRetries: 10, baseDelayMs: 20, maxDelayMs: 100 } });
    // A sweep longer than the test: retries must be picked up by the worker's own wake-up, not by the safety net.
    const worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
    try {
      t.outbox.register("order.*", webhook({ url: healthy.url, name: "healthy", secret: SECRET }));
      t.outbox.register("order.*", webhook({ url: flaky.url, name: "flaky", secret: SECRET }));
      await worker.start();
      const published = await t.outbox.publishEvent({ type: "order.created", source: "shop", data: { orderId: 7 } });

      // While the flaky endpoint fails: one delivery delivered, the other pending with the HTTP error as lastError.
      const midway = await waitFor(async () => {
        const e = await t.outbox.getEvent(published.id);
        const d = e?.deliveries.find((x) => x.name === "flaky");
        return d && d.attempts >= 3 ? e : null;
      }, "two retries at the failing endpoint");
      const byName = Object.fromEntries(midway.deliveries.map((d) => [d.name, d]));
      expect(byName.healthy).toMatchObject({ status: "delivered", attempts: 1 });
      expect(byName.flaky.status).not.toBe("failed");
      expect(byName.flaky.lastError).toBe(`HTTP 500 from ${shown(flaky.url)}: down for maintenance`);

      // Once the endpoint recovers the event is published, and the healthy endpoint was never sent it again.
      recovered = true;
      const done = await waitFor(async () => {
        const e = await t.outbox.getEvent(published.id);
        return e?.status === "published" ? e : null;
      }, "the event to be published");
      const flakyDelivery = done.deliveries.find((d) => d.name === "flaky")!;
      expect(flakyDelivery.status).toBe("delivered");
      expect(flakyDelivery.attempts).toBeGreaterThanOrEqual(4);
      expect(flaky.requests).toHaveLength(flakyDelivery.attempts);
      expect(healthy.requests).toHaveLength(1);
      // Every attempt carries the same identity, so the consumer can de-duplicate.
      const ids = new Set([...healthy.requests, ...flaky.requests].flatMap((r) => [r.headers["ce-id"], r.headers["webhook-id"]]));
      expect([...ids]).toEqual([published.id]);
      for (const r of flaky.requests) expect(() => new Webhook(SECRET).verify(r.body, flat(r.headers))).not.toThrow();
    } finally {
      await worker.stop();
      await t.drop();
    }
  });

  it("a permanent failure (410) fails that delivery at once, with the status in lastError", async () => {
    const healthy = await receiver();
    const gone = await receiver((_req, res) => res.writeHead(410).end("this hook was deleted"));
    const t = await testOutbox({ retry: { maxRetries: 10, baseDelayMs: 20, maxDelayMs: 100 } });
    // A sweep longer than the test: retries must be picked up by the worker's own wake-up, not by the safety net.
    const worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
    try {
      t.outbox.register("order.*", webhook({ url: healthy.url, name: "healthy" }));
      t.outbox.register("order.*", webhook({ url: gone.url, name: "gone" }));
      await worker.start();
      const published = await t.outbox.publishEvent({ type: "order.created", source: "shop", data: { orderId: 8 } });
      const e = await waitFor(async () => {
        const got = await t.outbox.getEvent(published.id);
        return got?.status === "failed" ? got : null;
      }, "the event to fail");
      const byName = Object.fromEntries(e.deliveries.map((d) => [d.name, d]));
      expect(byName.healthy).toMatchObject({ status: "delivered", attempts: 1 });
      expect(byName.gone).toMatchObject({ status: "failed", attempts: 1, lastError: `HTTP 410 from ${shown(gone.url)}: this hook was deleted` });
      expect(gone.requests).toHaveLength(1);
      expect(healthy.requests).toHaveLength(1);
    } finally {
      await worker.stop();
      await t.drop();
    }
  });

  it("without a timeoutMs of its own, the worker's handlerTimeoutMs cuts a hanging request off and cancels it", async () => {
    let closed = 0;
    const hang = await receiver((_req, res) => void res.on("close", () => closed++));
    const t = await testOutbox({ retry: { maxRetries: 0 } });
    const worker = t.outbox.worker({ handlerTimeoutMs: 300, leaseMs: 5000, sweepIntervalMs: 500 });
    try {
      t.outbox.register("order.*", webhook({ url: hang.url, name: "slow" }));
      await worker.start();
      const published = await t.outbox.publishEvent({ type: "order.created", source: "shop" });
      const e = await waitFor(async () => {
        const got = await t.outbox.getEvent(published.id);
        return got?.status === "failed" ? got : null;
      }, "the event to fail");
      expect(e.deliveries[0]).toMatchObject({ name: "slow", status: "failed", attempts: 1, lastError: "Timed out after 300 ms" });
      await waitFor(() => closed === 1 || null, "the request to be cancelled");
    } finally {
      await worker.stop();
      await t.drop();
    }
  });
});
