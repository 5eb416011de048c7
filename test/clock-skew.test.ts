// The worker's estimate of the database clock: an answer read late must not pull it back.
import { expect, it } from "vitest";
import { ClockSkew } from "../src/worker/clock.ts";

it("keeps the largest recent sample: an answer handled late (a busy event loop) does not pull the estimate back", () => {
  const skew = new ClockSkew();
  expect(skew.ms).toBe(0);
  // The database is 40 ms ahead. The first answer is read at once, the second 300 ms late.
  skew.sample(1_000_040, 1_000_000);
  expect(skew.ms).toBe(40);
  skew.sample(1_001_040, 1_001_300);
  expect(skew.ms).toBe(40);
  // A closer (larger) sample replaces it at once.
  skew.sample(1_002_045, 1_002_000);
  expect(skew.ms).toBe(45);
});

it("takes a smaller sample once the best is a minute old: the clocks may have been stepped", () => {
  const skew = new ClockSkew();
  skew.sample(1_000_040, 1_000_000);
  skew.sample(1_030_000, 1_030_000);
  expect(skew.ms).toBe(40);
  skew.sample(1_061_000, 1_061_000);
  expect(skew.ms).toBe(0);
});

it("starts from the first sample, whatever its sign, in whole milliseconds", () => {
  const skew = new ClockSkew();
  skew.sample(999_899.6, 1_000_000);
  expect(skew.ms).toBe(-100);
});
