import { RequestError } from "./errors.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a request body, refusing it with 413 as soon as it passes `maxBytes`: a declared Content-Length over the limit
 * is refused before reading, and a streamed body is cut off at the limit rather than buffered whole. `owner` names
 * whose maxBodyBytes option the refusal quotes.
 *
 * @example
 * ```ts
 * const bytes = await readBody(c.req.raw, 1_048_576);
 * ```
 */
export async function readBody(request: Request, maxBytes: number, owner = "the router's"): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes, owner);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes, owner);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(maxBytes: number, owner: string): RequestError {
  return new RequestError(
    413,
    "payload_too_large",
    `The request body is over ${owner} ${maxBytes}-byte limit (its maxBodyBytes option); send smaller events or fewer per batch.`,
  );
}

/**
 * Parses a JSON body, answering 400 with where it broke when it is not UTF-8 JSON.
 *
 * @example
 * ```ts
 * const value = parseJson(new TextEncoder().encode('{"type":"a"}'), "body"); // { type: "a" }
 * ```
 */
export function parseJson(bytes: Uint8Array, field: string): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new RequestError(400, "invalid_json", `The ${field} is not valid UTF-8; send JSON text.`, field);
  }
  if (text.trim() === "") throw new RequestError(400, "invalid_json", `The ${field} is empty; send a JSON document.`, field);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, "invalid_json", `The ${field} is not valid JSON: ${(err as Error).message}.`, field);
  }
}
