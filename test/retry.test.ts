import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeliveryError, PermanentError, type Worker } from "../mod.ts";
import { backoffMs, DEFAULT_RETRY, reconnectDelayMs } from "../src/retry.ts";
import { testOutbox, type TestOutbox, waitFor } from "./support/db.ts";

let t: TestOutbox;
const workers: Worker[] = [];
beforeEach(async () => {
  t = await testOutbox({ retry: { baseDelayMs: 40, maxDelayMs: 2000, maxRetries: 3 } });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await t.drop();
});

async function run(options = {}): Promise<Worker> {
  const worker = t.outbox.worker({ sweepIntervalMs: 600_000, ...options });
  workers.push(worker);
  await worker.start();
  return worker;
}

async function settled(id: string, timeoutMs = 10_000) {
  return await waitFor(async () => {
    const e = await t.outbox.getEvent(id);
    return e && (e.status === "published" || (e.status === "failed" && e.deliveries.every((d) => d.status !== "pending"))) ? e : null;
  }, `event ${id} to settle`, timeoutMs);
}

describe("retries: exponential backoff, stopping at maxRetries with status failed and lastError", () => {
  it("retries with growing delays, then fails with the last error", async () => {
    const attempts: number[] = [];
    t.outbox.register("notification.send", () => {
      attempts.push(Date.now());
      throw new Error(`smtp down (attempt ${attempts.length})`);
    }, { name: "mailer" });
    await run();
    const e = await t.outbox.publishEvent({ type: "notification.send", source: "notifications", data: { user_id: 123 }, maxRetries: 3 });
    const done = await settled(e.id);
    expect(attempts).toHaveLength(4); // the first attempt and three retries
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]);
    // Retry n waits 40 * 2^(n-1) ms, half of it jitter: the third wait (80-160 ms) outgrows the first (20-40 ms).
    // The exact delays are checked on backoffMs below, not with a clock on a busy machine.
    expect(gaps[2]).toBeGreaterThan(gaps[0]);
    expect(done).toMatchObject({ status: "failed", lastError: "mailer: smtp down (attempt 4)" });
    expect(done.deliveries).toEqual([
      expect.objectContaining({ name: "mailer", status: "failed", attempts: 4, lastError: "smtp down (attempt 4)", nextAttemptAt: null }),
    ]);
  });

  it("uses the outbox's default maxRetries when the event sets none, and 0 means one attempt", async () => {
    let calls = 0;
    t.outbox.register("flaky", () => {
      calls++;
      throw new Error("nope");
    });
    await run();
    const a = await t.outbox.publishEvent({ type: "flaky", source: "s" });
    await settled(a.id);
    expect(calls).toBe(4);
    const b = await t.outbox.publishEvent({ type: "flaky", source: "s", maxRetries: 0 });
    await settled(b.id);
    expect(calls).toBe(5);
  });

  it("delivers once a failing destination recovers", async () => {
    let calls = 0;
    t.outbox.register("recovering", () => {
      if (++calls < 3) throw new Error("not yet");
    });
    await run();
    const e = await t.outbox.publishEvent({ type: "recovering", source: "s" });
    const done = await settled(e.id);
    expect(done.status).toBe("published");
    // Delivered means delivered: the error of an earlier attempt is not shown beside it.
    expect(done.deliveries[0]).toMatchObject({ status: "delivered", attempts: 3, lastError: null });
    expect(done.lastError).toBeNull(); // nor beside the event
    expect(done.publishedAt).toBeInstanceOf(Date);
  });

  it("computes delays that double up to the cap, with jitter in the upper half", () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect(backoffMs(1, policy, undefined, () => 0)).toBe(500);
    expect(backoffMs(1, policy, undefined, () => 1)).toBe(1000);
    expect(backoffMs(3, policy, undefined, () => 0)).toBe(2000);
    expect(backoffMs(10, policy, undefined, () => 1)).toBe(10_000);
    expect(backoffMs(1, policy, 5000, () => 0)).toBe(5000); // Retry-After stretches the delay
    expect(backoffMs(1, policy, 3_600_000, () => 0)).toBe(10_000); // within the cap
  });
});

describe("permanent errors skip the remaining retries", () => {
  it("fails at once on PermanentError", async () => {
    let calls = 0;
    t.outbox.register("invoice.created", () => {
      calls++;
      throw new PermanentError("invoice has no customer");
    }, { name: "billing" });
    await run();
    const e = await t.outbox.publishEvent({ type: "invoice.created", source: "billing", maxRetries: 5 });
    const done = await settled(e.id);
    expect(calls).toBe(1);
    expect(done).toMatchObject({ status: "failed", lastError: "billing: invoice has no customer" });
  });

  it("keeps the error's text exactly, quotes, backslashes, braces and all", async () => {
    const message = 'bad "field" at C:\\tmp\\{x}, value NULL';
    t.outbox.register("odd.error", () => {
      throw new PermanentError(message);
    }, { name: "strict" });
    await run();
    const e = await t.outbox.publishEvent({ type: "odd.error", source: "billing" });
    const done = await settled(e.id);
    expect(done).toMatchObject({ status: "failed", lastError: `strict: ${message}` });
    expect(done.deliveries[0]).toMatchObject({ name: "strict", lastError: message });
  });

  it("waits as long as a DeliveryError's retryAfterMs asks", async () => {
    const at: number[] = [];
    t.outbox.register("limited", () => {
      at.push(Date.now());
      if (at.length === 1) throw new DeliveryError("429 Too Many Requests", { retryAfterMs: 600 });
    });
    await run();
    const e = await t.outbox.publishEvent({ type: "limited", source: "s" });
    await settled(e.id);
    expect(at).toHaveLength(2);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(500); // the backoff alone would have been 20-40 ms
  });
});

describe("independent destinations: success is never repeated because a sibling failed", () => {
  it("re-runs only the failing handler on retry", async () => {
    const calls = { audit: 0, email: 0 };
    t.outbox.register("user.created", () => void calls.audit++, { name: "audit" });
    t.outbox.register("user.created", () => {
      if (++calls.email < 3) throw new Error("smtp timeout");
    }, { name: "email" });
    await run();
    const e = await t.outbox.publishEvent({ type: "user.created", source: "users" });
    const done = await settled(e.id);
    expect(calls).toEqual({ audit: 1, email: 3 });
    expect(done.status).toBe("published");
    const byName = Object.fromEntries(done.deliveries.map((d) => [d.name, d]));
    expect(byName.audit).toMatchObject({ status: "delivered", attempts: 1 });
    expect(byName.email).toMatchObject({ status: "delivered", attempts: 3 });
  });

  it("marks the event failed while the healthy destination stays delivered, and retryEvent re-runs only the failed one", async () => {
    const calls = { audit: 0, email: 0 };
    let emailWorks = false;
    t.outbox.register("order.created", () => void calls.audit++, { name: "audit" });
    t.outbox.register("order.created", () => {
      calls.email++;
      if (!emailWorks) throw new PermanentError("mailbox gone");
    }, { name: "email" });
    await run();
    const e = await t.outbox.publishEvent({ type: "order.created", source: "orders" });
    const failed = await settled(e.id);
    expect(failed.status).toBe("failed");
    expect(failed.lastError).toBe("email: mailbox gone");
    expect((await t.outbox.listEvents({ status: "failed" })).events.map((x) => x.id)).toContain(e.id);

    emailWorks = true;
    const retried = await t.outbox.retryEvent(e.id);
    expect(retried?.status).toBe("pending");
    // The count goes on after a retry by hand; the event's attempts and its delivery's agree.
    expect(retried?.deliveries.find((d) => d.name === "email")).toMatchObject({ status: "pending", attempts: 1 });
    expect(retried?.attempts).toBe(1);
    const done = await waitFor(async () => {
      const x = await t.outbox.getEvent(e.id);
      return x?.status === "published" ? x : null;
    }, "the retried event to be published");
    expect(calls).toEqual({ audit: 1, email: 2 });
    expect(done.deliveries.find((d) => d.name === "audit")).toMatchObject({ status: "delivered", attempts: 1 });
    expect(done.deliveries.find((d) => d.name === "email")).toMatchObject({ status: "delivered", attempts: 2, lastError: null });
    expect(done.attempts).toBe(2);
  });

  it("retryEvent gives a fresh retry budget while the attempt count goes on", async () => {
    let calls = 0;
    t.outbox.register("budget", () => {
      calls++;
      throw new Error(`down ${calls}`);
    }, { name: "budgeted" });
    await run();
    const e = await t.outbox.publishEvent({ type: "budget", source: "s", maxRetries: 1 });
    const first = await settled(e.id);
    expect(first.deliveries[0]).toMatchObject({ status: "failed", attempts: 2, lastError: "down 2" });
    await t.outbox.retryEvent(e.id);
    const second = await waitFor(async () => {
      const x = await t.outbox.getEvent(e.id);
      return x?.status === "failed" && x.deliveries[0].attempts === 4 ? x : null;
    }, "the retried delivery to use its fresh budget of two attempts");
    expect(calls).toBe(4);
    expect(second.deliveries[0]).toMatchObject({ status: "failed", attempts: 4, lastError: "down 4" });
    expect(second.attempts).toBe(4);
  });

  it("retryEvent leaves an event with nothing failed alone, and answers null for an unknown id", async () => {
    t.outbox.register("fine", () => {});
    await run();
    const e = await t.outbox.publishEvent({ type: "fine", source: "s" });
    await settled(e.id);
    const again = await t.outbox.retryEvent(e.id);
    expect(again?.status).toBe("published");
    expect(await t.outbox.retryEvent("no-such-event")).toBeNull();
  });
});

describe("a handler that throws or hangs fails that delivery only", () => {
  it("times out a hanging handler, aborting its signal, and retries it", async () => {
    let aborted = 0;
    let calls = 0;
    t.outbox.register("hang", async (_e, ctx) => {
      calls++;
      if (calls === 1) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => {
          aborted++;
          resolve();
        }));
        await new Promise(() => {}); // and never return
      }
    }, { name: "hanger" });
    const other: string[] = [];
    t.outbox.register("hang", (e) => void other.push(e.id), { name: "other" });
    await run({ handlerTimeoutMs: 200, leaseMs: 5000 });
    const e = await t.outbox.publishEvent({ type: "hang", source: "s" });
    const done = await settled(e.id);
    expect(aborted).toBe(1);
    expect(other).toEqual([e.id]);
    expect(done.status).toBe("published");
    expect(done.deliveries.find((d) => d.name === "hanger")).toMatchObject({ status: "delivered", attempts: 2, lastError: null });
  });

  it("counts a rejection without a reason as a failure, not a success", async () => {
    t.outbox.register("no.reason", () => Promise.reject(), { name: "silent" });
    await run();
    const e = await t.outbox.publishEvent({ type: "no.reason", source: "s", maxRetries: 0 });
    const done = await settled(e.id);
    expect(done.deliveries[0]).toMatchObject({ name: "silent", status: "failed", lastError: "The destination failed without a reason." });
  });

  it("gives a handler that looks at its signal only after the timeout an aborted signal, with the reason", async () => {
    let seen: { aborted: boolean; reason: string } | null = null;
    t.outbox.register("late.look", async (_e, ctx) => {
      if (ctx.attempt > 1) return;
      await new Promise((r) => setTimeout(r, 400));
      seen = { aborted: ctx.signal.aborted, reason: String((ctx.signal.reason as Error)?.message) };
    }, { name: "late" });
    await run({ handlerTimeoutMs: 100, leaseMs: 5000 });
    const e = await t.outbox.publishEvent({ type: "late.look", source: "s" });
    await settled(e.id);
    await waitFor(async () => seen, "the handler to look at its signal");
    expect(seen).toEqual({ aborted: true, reason: "Timed out after 100 ms" });
  });
});

describe("reconnectDelayMs: the in-process reconnect and restart loops", () => {
  it("doubles up to its cap with equal jitter, so workers that lost the database together spread out", () => {
    expect(reconnectDelayMs(1, 50, 5000, () => 0)).toBe(25);
    expect(reconnectDelayMs(1, 50, 5000, () => 1)).toBe(50);
    expect(reconnectDelayMs(4, 50, 5000, () => 1)).toBe(400);
    expect(reconnectDelayMs(20, 50, 5000, () => 0)).toBe(2500);
    expect(reconnectDelayMs(20, 50, 5000, () => 1)).toBe(5000);
    const delays = new Set(Array.from({ length: 20 }, () => reconnectDelayMs(6, 50, 5000)));
    expect(delays.size).toBeGreaterThan(1);
  });
});
