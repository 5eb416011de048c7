import { DeliveryError, PermanentError } from "../../src/errors.ts";
import { storable } from "../../src/text.ts";
import { describeError } from "../cause.ts";

/** AMQP reply codes that no retry can fix: 403 ACCESS_REFUSED, 404 NOT_FOUND (no such exchange), 406 PRECONDITION_FAILED. */
const PERMANENT = new Set([403, 404, 406]);

/**
 * Turns the error that closed the channel (or the connection) into the outcome of the deliveries it took with it. A
 * missing exchange or a refused permission fails for good; a lost connection is retried.
 *
 * @example
 * ```ts
 * throw channelFailure(err, "events");
 * ```
 */
export function channelFailure(err: unknown, exchange: string): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const reason = storable(describeError(err), 500);
  if (code === 404) {
    return new PermanentError(
      `RabbitMQ exchange "${exchange}" does not exist: declare it (rabbitmqadmin declare exchange name=${exchange} ` +
        `type=topic durable=true) or fix the amqp() exchange option (${reason})`,
      { cause: err },
    );
  }
  if (typeof code === "number" && PERMANENT.has(code)) {
    return new PermanentError(`RabbitMQ refused the publish to exchange "${exchange}": ${reason}`, { cause: err });
  }
  return new DeliveryError(`The RabbitMQ channel for exchange "${exchange}" closed: ${reason}`, { cause: err });
}
