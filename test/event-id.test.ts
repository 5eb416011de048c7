import { describe, expect, it } from "vitest";
import { newEventId } from "../src/event-id.ts";
import { fromInput } from "../src/event.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix milliseconds in a version 7 UUID's first 48 bits. */
function timeOf(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

describe("generated event ids: UUID version 7", () => {
  it("have the version 7 layout and carry the time they were made", () => {
    for (const at of [0, 1, 0xffff, 0x10000, Date.UTC(2026, 11, 1, 12, 30), 2 ** 48 - 1]) {
      const id = newEventId(at);
      expect(id).toMatch(V7);
      expect(timeOf(id)).toBe(at);
    }
  });

  it("sort in the order of their times, and do not repeat", () => {
    const start = Date.now();
    // Past the pool of random bytes several times over, so a refill is crossed too.
    const ids = Array.from({ length: 5000 }, (_, i) => newEventId(start + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 10; i < ids.length; i += 10) expect(ids[i - 1] < ids[i]).toBe(true);
    // The random part varies in every position it has (not one fixed byte).
    const tails = new Set(ids.map((id) => id.slice(24)));
    expect(tails.size).toBe(ids.length);
  });

  it("is what an event published without an id gets", () => {
    const before = Date.now();
    const e = fromInput({ type: "t", source: "s" }, 1_000_000);
    expect(e.id).toMatch(V7);
    expect(timeOf(e.id)).toBeGreaterThanOrEqual(before);
    expect(timeOf(e.id)).toBeLessThanOrEqual(Date.now());
    expect(fromInput({ type: "t", source: "s", id: "given" }, 1_000_000).id).toBe("given");
  });
});
