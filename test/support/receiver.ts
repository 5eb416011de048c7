// A receiver mounted on a real node:http server on an ephemeral port, and signed requests built with the sender's
// own code (the webhook destination's binding and signer), so a test can replay exactly what the outbox sends.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { CloudEvent } from "cloudevents";
import type { Receiver } from "../../adapters/receiver.ts";
import { binaryMessage, structuredMessage } from "../../adapters/webhook/binding.ts";
import { createSigner } from "../../adapters/webhook/sign.ts";

export const SECRET = "whsec_" + btoa("receiver-test-secret-32-bytes!!!");

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serveReceiver(handle: Receiver): Promise<Served> {
  const server: Server = createServer(getRequestListener(handle));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface Signed {
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer> | undefined;
}

/** What the webhook destination sends for this event, signed at `timestamp` (unix seconds, default now). */
export async function signedRequest(
  event: CloudEvent<unknown>,
  options: { secret?: string; mode?: "binary" | "structured"; timestamp?: number } = {},
): Promise<Signed> {
  const message = options.mode === "structured" ? structuredMessage(event) : binaryMessage(event);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = await createSigner(options.secret ?? SECRET).headers(event.id, timestamp, message.body);
  return { headers: { ...message.headers, ...signature }, body: message.body };
}

/** Signs any body with the sender's signer, for hand-made requests (batches, malformed events). */
export async function signBody(id: string, body: Uint8Array<ArrayBuffer>, headers: Record<string, string>, timestamp = Math.floor(Date.now() / 1000)): Promise<Signed> {
  return { headers: { ...headers, ...(await createSigner(SECRET).headers(id, timestamp, body)) }, body };
}

export async function post(url: string, req: Signed): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { method: "POST", headers: req.headers, body: req.body ?? null });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, headers: res.headers };
}
