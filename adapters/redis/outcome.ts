import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { storable } from "../../src/text.ts";
import { describeError } from "../cause.ts";

/**
 * Turns a failed XADD into the delivery's outcome. Redis's error replies that no retry can fix fail for good: the
 * key holds another type (`WRONGTYPE`), the ACL forbids it (`NOPERM`, `NOAUTH`, `WRONGPASS`), or a command or
 * argument the server refuses (`ERR`). The rest (a lost connection, a loading or read-only replica, `OOM`,
 * `BUSY`, `MASTERDOWN`, `TRYAGAIN`) is retried.
 *
 * @example
 * ```ts
 * throw xaddFailure(err, "events");
 * ```
 */
export function xaddFailure(err: unknown, stream: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const reason = storable(describeError(err), 500);
  // node-redis names its reply errors "Error"; the class says it came from the server.
  const reply = (err as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  const prefix = /^[A-Z]+/.exec(reason)?.[0];
  if ((reply === "SimpleError" || reply === "ErrorReply" || reply === "BlobError") && prefix && PERMANENT.has(prefix)) {
    const fix = prefix === "WRONGTYPE"
      ? `: the key "${stream}" holds another type; use another stream name`
      : prefix === "NOPERM" || prefix === "NOAUTH" || prefix === "WRONGPASS" ? ": check the user's ACL and password in the url" : "";
    return new PermanentError(`Redis refused XADD to stream "${stream}": ${reason}${fix}`, { cause: err });
  }
  return new DeliveryError(`XADD to Redis stream "${stream}" failed: ${reason}`, { cause: err });
}

const PERMANENT = new Set(["WRONGTYPE", "NOPERM", "NOAUTH", "WRONGPASS", "ERR"]);
