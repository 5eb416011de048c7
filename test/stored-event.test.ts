// The worker rebuilds each claimed event without the SDK's constructor (src/stored-event.ts). Handlers must not be able
// to tell: the same class, the same own properties in the same order, the same values, frozen, the same JSON.
import { CloudEvent } from "cloudevents";
import { describe, expect, test } from "vitest";
import { type CloudEventRow, toCloudEvent } from "../src/stored-event.ts";

const base: CloudEventRow = {
  id: "e-1", source: "/orders", type: "order.created", specversion: "1.0", time: "2026-12-01T00:00:00.000Z",
  subject: null, datacontenttype: null, dataschema: null, extensions: null, data: null,
};

/** What the SDK's constructor makes of the row, as the worker used to build it. */
function constructed(row: CloudEventRow): CloudEvent<unknown> {
  const attributes: Record<string, unknown> = row.extensions == null ? {} : JSON.parse(row.extensions);
  Object.assign(attributes, { id: row.id, source: row.source, type: row.type, specversion: row.specversion, time: row.time ?? undefined });
  if (row.subject != null) attributes.subject = row.subject;
  if (row.datacontenttype != null) attributes.datacontenttype = row.datacontenttype;
  if (row.dataschema != null) attributes.dataschema = row.dataschema;
  if (row.data != null) attributes.data = JSON.parse(row.data);
  return new CloudEvent<unknown>(attributes as never, false);
}

function same(row: CloudEventRow): void {
  const fast = toCloudEvent(row);
  const sdk = constructed(row);
  expect(fast).toBeInstanceOf(CloudEvent);
  expect(Object.isFrozen(fast)).toBe(true);
  expect(Reflect.ownKeys(fast)).toEqual(Reflect.ownKeys(sdk));
  for (const key of Reflect.ownKeys(sdk)) expect((fast as never)[key], String(key)).toEqual((sdk as never)[key]);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(sdk));
  expect(fast.toString()).toBe(sdk.toString());
  // What the SDK's methods make of the two is the same too (strict ones refuse what the constructor would refuse).
  const outcome = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (err) {
      return (err as Error).message;
    }
  };
  expect(outcome(() => fast.cloneWith({ subject: "x" }).toString())).toEqual(outcome(() => sdk.cloneWith({ subject: "x" }).toString()));
  expect(outcome(() => fast.validate())).toEqual(outcome(() => sdk.validate()));
}

describe("a claimed event reaches its destinations as the SDK would have built it", () => {
  test("the bare minimum, and every optional attribute", () => {
    same(base);
    same({ ...base, subject: "Order #456", datacontenttype: "application/json", dataschema: "https://example.com/s.json", data: '{"a":[1,2,{"b":null}]}' });
  });

  test("data that is JSON null, a string, a number; data absent", () => {
    for (const data of ["null", '"text"', "42", null]) same({ ...base, data });
  });

  test("extensions keep their order, numeric names included, beside a stored traceparent", () => {
    same({ ...base, extensions: '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","zeta":1,"alpha":true,"9lives":"x","10":"y"}' });
  });

  test("a row publish would not have stored goes through the constructor", () => {
    same({ ...base, extensions: '{"Upper":"x","with_underscore":1}' });
    same({ ...base, specversion: "0.3" });
    const untimed = toCloudEvent({ ...base, time: null });
    expect(typeof untimed.time).toBe("string");
    expect(Object.isFrozen(untimed)).toBe(true);
  });
});
