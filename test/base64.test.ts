// One base64 helper (src/base64.ts) for the core and every adapter: standard alphabet, with padding, and no call that
// spreads a whole body into String.fromCharCode (that throws RangeError past some hundred thousand bytes).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CloudEvent } from "cloudevents";
import { expect, test } from "vitest";
import { binaryMessage } from "../adapters/webhook/binding.ts";
import { fromBase64, toBase64 } from "../src/base64.ts";

test("a binary CloudEvent attribute of a megabyte is encoded, not a stack overflow", () => {
  const big = new Uint8Array(1_000_000).map((_, i) => i % 251);
  const event = new CloudEvent({ type: "blob.stored", source: "test", id: "1", blob: big }, false);
  const message = binaryMessage(event);
  expect(message.headers["ce-blob"]).toBe(Buffer.from(big).toString("base64"));
});

test("toBase64 and fromBase64 agree with Buffer at every length around the chunk size, and are inverse", () => {
  for (const n of [0, 1, 2, 3, 0x7fff, 0x8000, 0x8001, 0x10000 + 2]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 7) % 256);
    const text = toBase64(bytes);
    expect(text, `length ${n}`).toBe(Buffer.from(bytes).toString("base64"));
    expect(fromBase64(text)).toEqual(bytes);
  }
  expect(() => fromBase64("not base64!")).toThrow();
});

test("the adapters use it: no other encoder spreads bytes into String.fromCharCode", () => {
  const root = join(import.meta.dirname, "..");
  const files = ["adapters/webhook/sign.ts", "adapters/webhook/binding.ts", "adapters/pubsub/message.ts", "adapters/pubsub/rest.ts", "adapters/dashboard/session.ts"];
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    expect(text, file).not.toMatch(/btoa\(|atob\(|fromCharCode\(\.\.\./);
  }
});
