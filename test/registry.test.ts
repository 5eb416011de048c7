import { describe, expect, it } from "vitest";
import { DispatchError } from "../mod.ts";
import type { Destination } from "../mod.ts";
import { MATCH_CACHE_SIZE, Registry } from "../src/registry.ts";

const names = (r: Registry, type: string) => r.match(type).map((d) => d.name);

describe("register: one verb for handlers and destinations", () => {
  it("matches exact types, lists, prefixes, '*' and global handlers", () => {
    const r = new Registry();
    r.add("user.created", function handleUserCreated() {});
    r.add(["order.created", "order.updated"], function handleOrder() {});
    r.add("order.*", { name: "order-hook", deliver: async () => {} });
    r.add(undefined, function logAllEvents() {});
    r.add("*", { name: "pubsub:events", deliver: async () => {} });
    expect(names(r, "user.created")).toEqual(["handleUserCreated", "logAllEvents", "pubsub:events"]);
    expect(names(r, "order.updated")).toEqual(["handleOrder", "order-hook", "logAllEvents", "pubsub:events"]);
    expect(names(r, "order.shipped.late")).toEqual(["order-hook", "logAllEvents", "pubsub:events"]);
    expect(names(r, "order")).toEqual(["logAllEvents", "pubsub:events"]);
    expect(names(r, "user.deleted")).toEqual(["logAllEvents", "pubsub:events"]);
  });

  it("adds types when the same handler is registered again (Django Dispatch's stacked decorators)", () => {
    const r = new Registry();
    function handleOrderEvents() {}
    r.add("order.created", handleOrderEvents);
    r.add("order.updated", handleOrderEvents);
    expect(names(r, "order.created")).toEqual(["handleOrderEvents"]);
    expect(names(r, "order.updated")).toEqual(["handleOrderEvents"]);
    expect(r.all()).toHaveLength(1);
  });

  it("names inline handlers after their types, and refuses two destinations under one name", () => {
    const r = new Registry();
    r.add("user.created", () => {});
    expect(names(r, "user.created")).toEqual(["handler:user.created"]);
    expect(() => r.add("user.created", () => {})).toThrow(/already registered as "handler:user.created"/);
    r.add("user.created", () => {}, { name: "crm-sync" });
    expect(() => r.add("x", function crm() {}, { name: "crm-sync" })).toThrow(DispatchError);
    const hook: Destination = { name: "hook", deliver: async () => {} };
    r.add("a", hook);
    r.add("b", hook);
    expect(names(r, "b")).toEqual(["hook"]);
  });

  it("refuses bad patterns, targets and options", () => {
    const r = new Registry();
    expect(() => r.add("", () => {}, { name: "x" })).toThrow(/non-empty/);
    expect(() => r.add("order*", () => {}, { name: "x" })).toThrow(/Invalid event type pattern "order\*"/);
    expect(() => r.add("*.created", () => {}, { name: "x" })).toThrow(/Invalid event type pattern/);
    expect(() => r.add([], () => {}, { name: "x" })).toThrow(/at least one event type/);
    expect(() => r.add("a", {} as never)).toThrow(/needs a name/);
    expect(() => r.add("a", { name: "n" } as never)).toThrow(/handler function or a destination/);
    expect(() => r.add("a", () => {}, { nmae: "typo" } as never)).toThrow(/Unknown option "nmae"/);
  });
});

describe("guarantee 9: producers cannot grow the registry's memory", () => {
  it("remembers at most MATCH_CACHE_SIZE event types, and still matches every one", () => {
    const r = new Registry();
    r.add("order.*", { name: "orders", deliver: async () => {} });
    for (let i = 0; i < MATCH_CACHE_SIZE * 3; i++) expect(names(r, `order.t${i}`)).toEqual(["orders"]);
    expect(r.cachedTypes).toBe(MATCH_CACHE_SIZE);
    expect(names(r, "order.t0")).toEqual(["orders"]);
  });

  it("refuses a destination name that cannot key delivery state", () => {
    const r = new Registry();
    // The last: 1000 characters of 3 bytes each, more than the destinations table's key can index.
    const wide = Array.from({ length: 1000 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join("");
    for (const name of ["a\u0000b", "\uD800", "x".repeat(1001), "\u00e9".repeat(501), wide]) {
      expect(() => r.add("t", () => {}, { name })).toThrow(DispatchError);
    }
  });
});
