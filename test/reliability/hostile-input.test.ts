// Scenario: hostile receivers. Endpoints answer 500 with bodies PostgreSQL cannot store as they are (NUL bytes, a
// UTF-16 error page, an emoji straddling the excerpt's cut), or echo the request's credentials back; every webhook URL
// carries a Slack-style secret in its path, and a Pub/Sub REST endpoint answers the same kind of body. What the
// adapters hand the worker must be storable and free of credentials: every outcome is recorded, and the secret path,
// the bearer token and the API key appear nowhere in stored state, lastError or the worker's log lines.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { pubsub } from "../../adapters/pubsub.ts";
import { webhook } from "../../adapters/webhook.ts";
import { jsonLogger } from "../../src/logger.ts";
import { isStorable } from "../../src/text.ts";
import type { Worker } from "../../src/worker.ts";
import { testOutbox, type TestOutbox, waitFor } from "../support/db.ts";
import { summary } from "./support/check.ts";

const SECRET_SEGMENT = "xoxbSecretPathToken0123456789";
const SECRET_PATH = `/services/T0HOSTILE/B0HOSTILE/${SECRET_SEGMENT}`;
const TOKEN = "hostile-bearer-token-0123456789";
const API_KEY = "hostile-api-key-abcdefgh";
const EVENTS = 5;

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

const answers: Record<string, Answer> = {
  // A binary error page: NUL bytes first.
  nul: (_req, res) => res.writeHead(500).end(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from(" binary error page")])),
  // A UTF-16 error page read as UTF-8: every other byte is 0x00.
  utf16: (_req, res) => res.writeHead(500, { "content-type": "text/plain; charset=utf-16le" }).end(Buffer.from("Internal Server Error", "utf16le")),
  // An ordinary body with an emoji across character 200, where the excerpt is cut.
  emoji: (_req, res) => res.writeHead(500).end("e".repeat(199) + "😀 and more after the cut"),
  // A receiver that quotes the request back, credentials and path included.
  echo: (req, res) =>
    res.writeHead(500).end(`you sent Authorization: ${req.headers.authorization}; x-api-key: ${req.headers["x-api-key"]}; path ${req.url}`),
  healthy: (_req, res) => res.writeHead(204).end(),
};

const servers: Server[] = [];

async function serve(answer: Answer): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("guarantee 9: hostile receivers fail only their own deliveries, and what is stored is storable and secret-free", () => {
  let t: TestOutbox;
  let worker: Worker;

  afterEach(async () => {
    await worker?.stop();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await t?.drop();
  });

  it("records every outcome; no NUL, lone surrogate, secret path, token or API key in the database or the logs", async () => {
    const lines: string[] = [];
    t = await testOutbox({
      retry: { maxRetries: 1, baseDelayMs: 20, maxDelayMs: 50 },
      logger: jsonLogger((line) => lines.push(line), "debug"),
    });
    const names: Record<string, string> = {};
    for (const [kind, answer] of Object.entries(answers)) {
      // Default names: the name keys stored state, so it must not carry the path either.
      const dest = webhook({ url: (await serve(answer)) + SECRET_PATH, bearerToken: TOKEN, headers: { "x-api-key": API_KEY } });
      names[kind] = dest.name;
      t.outbox.register("*", dest);
    }
    // A Pub/Sub REST endpoint with the same kind of error body: NUL, and an emoji across character 300.
    const pubsubBody = "\u0000pubsub".padEnd(299, ".") + "😀 tail";
    const endpoint = await serve((_req, res) => res.writeHead(500, { "content-type": "text/plain" }).end(pubsubBody));
    const topic = pubsub({ topic: "events", projectId: "p1", transport: "rest", apiEndpoint: endpoint });
    t.outbox.register("*", topic);

    worker = t.outbox.worker({ concurrency: 8, leaseMs: 20_000, sweepIntervalMs: 1000, retention: false });
    await worker.start();
    for (let i = 0; i < EVENTS; i++) await t.outbox.publishEvent({ type: "hostile.test", source: "reliability", data: { i } });
    // Finished, not only failed: an event is failed as soon as one delivery fails for good, while another may still
    // have its retry ahead (a destination put off as slow on a busy machine); such an event stays due until then.
    await waitFor(async () => {
      const [row] = await t.sql.unsafe(
        `select count(*)::int as n from "${t.schema}".events where status = 'failed' and next_attempt_at is null and lease is null`,
      );
      return row.n === EVENTS;
    }, "every event to be recorded as failed, every delivery finished", 30_000);

    const { events } = await t.outbox.listEvents({ limit: 100 });
    expect(events).toHaveLength(EVENTS);
    const problems: string[] = [];
    for (const listed of events) {
      const e = (await t.outbox.getEvent(listed.id))!;
      const by = Object.fromEntries(e.deliveries.map((d) => [d.name, d]));
      expect(by[names.healthy]).toMatchObject({ status: "delivered", attempts: 1 });
      for (const kind of ["nul", "utf16", "emoji", "echo"]) {
        const d = by[names[kind]];
        if (d.status !== "failed" || d.attempts !== 2 || !isStorable(d.lastError ?? "\u0000")) problems.push(`${kind}: ${JSON.stringify(d)}`);
      }
      expect(by[names.nul].lastError).toMatch(/^HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/…#[0-9a-f]{8}: \uFFFD{3}\u0001 binary error page$/);
      expect(by[names.emoji].lastError).toMatch(/: e{199}…$/);
      expect(by[names.echo].lastError).toMatch(/: you sent Authorization: Bearer \[redacted\]; x-api-key: \[redacted\]; path \[redacted\]$/);
      const p = by["pubsub:events"];
      expect(p.status).toBe("failed");
      expect(isStorable(p.lastError!)).toBe(true);
      expect(p.lastError).toMatch(/: \uFFFDpubsub\.+…$/);
    }
    expect(problems).toEqual([]);

    // Nothing secret anywhere: every stored column of every row, every log line.
    const stored = (await t.sql.unsafe(`select row_to_json(e)::text as row from "${t.schema}".events e`)).map((r) => r.row as string);
    const everything = [...stored, ...lines].join("\n");
    for (const secret of [SECRET_SEGMENT, SECRET_PATH, TOKEN, API_KEY]) expect(everything).not.toContain(secret);
    for (const name of Object.values(names)) expect(name).toMatch(/^webhook:http:\/\/127\.0\.0\.1:\d+\/…#[0-9a-f]{8}$/);
    expect(lines.some((line) => line.includes("delivery failed"))).toBe(true);
    summary("hostile-input", {
      events: EVENTS,
      receivers: "nul,utf16,emoji@200,echo-credentials,pubsub-nul+emoji@300",
      recorded: EVENTS,
      secretsInStateOrLogs: 0,
      logLines: lines.length,
    });
  }, 60_000);
});
