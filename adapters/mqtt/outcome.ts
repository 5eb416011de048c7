import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { storable } from "../../src/text.ts";
import { describeError } from "../cause.ts";

/**
 * MQTT 5 PUBACK reason codes that no retry can fix: 0x87 not authorized, 0x90 topic name invalid, 0x99 payload format
 * invalid, 0x95 packet too large. The others (0x80 unspecified, 0x83 implementation specific, 0x97 quota exceeded)
 * are retried.
 */
const PERMANENT = new Set([0x87, 0x90, 0x95, 0x99]);

/**
 * Turns a failed QoS 1 publish into the delivery's outcome: a refusal in the PUBACK that retrying cannot fix fails
 * for good; a lost connection or a missing PUBACK is retried.
 *
 * @example
 * ```ts
 * throw publishFailure(err, "events/orders");
 * ```
 */
export function publishFailure(err: unknown, topic: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const reason = storable(describeError(err), 500);
  if (typeof code === "number" && PERMANENT.has(code)) {
    return new PermanentError(`The MQTT broker refused the message for topic "${topic}" (reason code ${code}): ${reason}`, { cause: err });
  }
  return new DeliveryError(`MQTT publish to topic "${topic}" failed: ${reason}`, { cause: err });
}
