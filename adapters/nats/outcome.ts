import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { storable } from "../../src/text.ts";
import { describeError } from "../cause.ts";

/** The part of a JetStream manager this module uses: which stream captures a subject. */
export interface StreamFinder {
  find(subject: string): Promise<string>;
}

const PERMANENT_NAMES = new Set(["PermissionViolationError", "AuthorizationError", "InvalidSubjectError", "InvalidArgumentError"]);

/**
 * Turns a failed JetStream publish into the delivery's outcome. "No responders" means nothing answered on the
 * subject, which is a missing stream only if JetStream itself says so: the stream is looked up, and only "no stream
 * matches subject" fails for good (a server that is restarting and has not loaded its streams yet answers nothing
 * too, and that is retried). A permission violation is permanent; a lost connection or a timeout is retried.
 *
 * @example
 * ```ts
 * throw await publishFailure(err, "events.created", jsm.streams);
 * ```
 */
export async function publishFailure(err: unknown, subject: string, streams: () => Promise<StreamFinder>): Promise<DeliveryError> {
  if (err instanceof DeliveryError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  const reason = storable(describeError(err), 500);
  if (typeof name === "string" && PERMANENT_NAMES.has(name)) {
    return new PermanentError(`NATS refused the publish to subject "${subject}": ${reason}`, { cause: err });
  }
  if (name === "JetStreamNotEnabled" || name === "NoRespondersError" || /no responders/i.test(reason)) {
    if (await streamMissing(subject, streams)) {
      return new PermanentError(
        `No JetStream stream captures subject "${subject}": add one (nats stream add EVENTS --subjects "${subject}") ` +
          "or fix the nats() subject option",
        { cause: err },
      );
    }
  }
  const status = (err as { status?: unknown } | null)?.status;
  // A JetStream API 400 (a message over the stream's limits, a bad header) is the same on every retry.
  if (name === "JetStreamApiError" && status === 400) {
    return new PermanentError(`JetStream refused the message for subject "${subject}": ${reason}`, { cause: err });
  }
  return new DeliveryError(`JetStream publish to subject "${subject}" failed: ${reason}`, { cause: err });
}

async function streamMissing(subject: string, streams: () => Promise<StreamFinder>): Promise<boolean> {
  try {
    await (await streams()).find(subject);
    return false;
  } catch (err) {
    return (err as { name?: unknown } | null)?.name === "StreamNotFoundError";
  }
}
