// Every curl line of README.md and docs/*.md, run as written (each sh block whole, by bash, with the real curl) against
// the router mounted as the docs mount it, with a worker running: each must be answered 2xx, and the first event a
// reader publishes must be delivered at once, not scheduled somewhere ahead where a newcomer would see nothing happen.
import { serve, type ServerType } from "@hono/node-server";
import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { outboxRouter } from "../adapters/hono.ts";
import type { Worker } from "../mod.ts";
import { type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const TOKEN = "docs-curl-token";
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "pgd-curl-"));

interface ShellBlock {
  where: string;
  script: string;
}

/** The sh blocks of a doc that call the router (`curl ... "$O/..."`), in the order a reader meets them. */
function curlBlocks(doc: string): ShellBlock[] {
  const lines = readFileSync(join(ROOT, doc), "utf8").split("\n");
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i])) continue;
    const end = lines.indexOf("```", i + 1);
    const script = lines.slice(i + 1, end).join("\n");
    if (/^curl .*"\$O\//m.test(script)) blocks.push({ where: `${doc}:${i + 1}`, script });
    i = end;
  }
  return blocks;
}

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const BLOCKS = DOCS.flatMap((doc) => curlBlocks(doc).map((b) => ({ doc, ...b })));

interface Answer {
  status: number;
  url: string;
  body: string;
}

/**
 * Runs a block with curl wrapped: each call prints its body as curl would (so `$(curl ... | jq ...)` works as written)
 * and appends the body and its status to a log; the calls' answers in order.
 */
async function runBlock(block: ShellBlock, base: string): Promise<Answer[]> {
  const log = join(dir, "answers.log");
  writeFileSync(log, "");
  const wrapper = [
    "curl() {",
    "  local out; out=$(command curl -w '\\n@@answer %{http_code} %{url_effective}' \"$@\"; echo .); out=${out%.}",
    "  printf '%s\\n' \"$out\" >> \"$ANSWERS\"",
    "  printf '%s' \"${out%$'\\n'@@answer *}\"",
    "}",
  ].join("\n");
  await run("bash", ["-c", `${wrapper}\n${block.script}`], { env: { ...process.env, O: base, T: TOKEN, ANSWERS: log } });
  const answers: Answer[] = [];
  let body: string[] = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    const m = /^@@answer (\d+) (.*)$/.exec(line);
    if (!m) {
      body.push(line);
      continue;
    }
    answers.push({ status: Number(m[1]), url: m[2], body: body.join("\n").trim() });
    body = [];
  }
  return answers;
}

let t: TestOutbox;
let worker: Worker;
let server: ServerType;
let base: string;
const delivered: string[] = [];

beforeAll(async () => {
  t = await testOutbox();
  // The destinations the docs' examples name, so that pausing, retrying and replaying them is what a reader's app does.
  t.outbox.register((event) => void delivered.push(event.id), { name: "warehouse" });
  t.outbox.register("order.*", () => {}, { name: "billing" });
  t.outbox.register("user.*", () => {}, { name: "crm-sync" });
  worker = t.outbox.worker();
  await worker.start();
  const app = new Hono().route("/outbox", outboxRouter(t.outbox, { auth: { token: TOKEN } }));
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/outbox`;
});

afterAll(async () => {
  await new Promise((closed) => server?.close(closed));
  await worker?.stop();
  await t?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test("the docs have curl lines for the router", () => {
  expect(BLOCKS.map((b) => b.doc)).toEqual(expect.arrayContaining(["README.md", "docs/router.md"]));
});

describe.each(DOCS.filter((doc) => BLOCKS.some((b) => b.doc === doc)))("%s", (doc) => {
  test("every curl line is answered 2xx; the first event published is delivered now", async () => {
    let first: string | undefined;
    for (const block of BLOCKS.filter((b) => b.doc === doc)) {
      const answers = await runBlock(block, base);
      expect(answers.length, `${block.where}: every curl line ran`).toBe(block.script.match(/(^|\$\()curl /gm)!.length);
      for (const a of answers) expect({ at: block.where, url: a.url, status: a.status, body: a.body }).toMatchObject({ status: expect.toSatisfy((s: number) => s >= 200 && s < 300) });
      const published = answers.find((a) => a.url.endsWith("/outbox/events") && a.status === 201);
      if (!first && published) first = (JSON.parse(published.body) as { id: string }).id;
    }
    expect(first, `${doc} publishes an event`).toBeDefined();
    await waitFor(() => delivered.includes(first!), `the first event ${doc} publishes (${first}) to be delivered`, 5_000);
  }, 60_000);
});
