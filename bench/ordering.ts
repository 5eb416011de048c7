// Ordering keys: what waiting events cost everyone else, and what ordering keys cost publish.
//   npm run bench:ordering                 medians of 3 runs (about 2 minutes on 2 cores)
//   npm run bench:ordering -- --runs=1
// Works in its own schema of DATABASE_URL (default: the machine's server) and drops it at the end.
import postgres from "postgres";
import { Outbox } from "../mod.ts";
import { median, quiet, sleep, until } from "./support.ts";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const runs = Number(process.argv.find((a) => a.startsWith("--runs="))?.slice(7) ?? 3);
const BLOCKED = 20_000;
const UNRELATED = 200;
const KEYS = 64;

/**
 * Milliseconds from publishing 200 unrelated events to their delivery, while 20,000 events wait behind one key whose
 * first event is retrying (its next attempt an hour away).
 */
async function unrelatedBehindBlocked(): Promise<number> {
  return await withOutbox(async (outbox) => {
    let delivered = 0;
    outbox.register("head", () => {
      throw new Error("down");
    });
    outbox.register("free", () => void delivered++);
    outbox.register("follow", () => {});
    const worker = outbox.worker({ concurrency: 32 });
    await worker.start();
    try {
      const head = await outbox.publishEvent({ type: "head", source: "bench", orderingKey: "hot" });
      await until(async () => ((await outbox.getEvent(head.id))?.attempts ?? 0) >= 1, "the head's first attempt");
      for (let c = 0; c < BLOCKED / 5000; c++) {
        await outbox.publishEvents(Array.from({ length: 5000 }, (_, i) => ({ type: "follow", source: "bench", orderingKey: "hot", data: { i } })), { notify: false });
      }
      const started = performance.now();
      await outbox.publishEvents(Array.from({ length: UNRELATED }, (_, i) => ({ type: "free", source: "bench", data: { i } })));
      await until(() => delivered === UNRELATED, "the unrelated events", 300_000, 2);
      return performance.now() - started;
    } finally {
      await worker.stop();
    }
  }, { retry: { baseDelayMs: 3_600_000, maxDelayMs: 3_600_000 } });
}

/** Events/s published one per transaction by 8 concurrent producers for `seconds`, with or without ordering keys. */
async function single(keyed: boolean, seconds: number): Promise<number> {
  return await withOutbox(async (outbox) => {
    await Promise.all(Array.from({ length: 8 }, (_, p) => outbox.publishEvent({ type: "warm", source: `w${p}` })));
    let n = 0;
    const end = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(Array.from({ length: 8 }, async (_, p) => {
      while (performance.now() < end) {
        const i = n++;
        await outbox.publishEvent({ type: "t", source: "bench", data: { i }, ...(keyed ? { orderingKey: `k${(i + p) % KEYS}` } : {}) });
      }
    }));
    return n / ((performance.now() - started) / 1000);
  });
}

/** Events/s published in batches of 1,000 (one producer) for `seconds`, with or without ordering keys. */
async function bulk(keyed: boolean, seconds: number): Promise<number> {
  return await withOutbox(async (outbox) => {
    let n = 0;
    const end = performance.now() + seconds * 1000;
    const started = performance.now();
    while (performance.now() < end) {
      await outbox.publishEvents(Array.from({ length: 1000 }, (_, i) => ({
        type: "t", source: "bench", data: { i }, ...(keyed ? { orderingKey: `k${(n + i) % KEYS}` } : {}),
      })));
      n += 1000;
    }
    return n / ((performance.now() - started) / 1000);
  });
}

/**
 * Microseconds per event for publish statements alone: 2,000 single publishes, or 20 batches of 1,000, inside one
 * transaction (no commit, so the figure is the statement's cost, not the WAL flush that dominates a busy machine).
 * Keyed and unkeyed alternate within one run, on one table, so the machine's noise falls on both alike.
 */
async function statementCost(): Promise<{ single: number; singleKeyed: number; bulk: number; bulkKeyed: number }> {
  return await withOutbox(async (outbox) => {
    const times = { single: [] as number[], singleKeyed: [] as number[], bulk: [] as number[], bulkKeyed: [] as number[] };
    await outbox.sql.begin(async (tx) => {
      for (let round = 0; round < 10; round++) {
        for (const keyed of [false, true]) {
          let started = performance.now();
          for (let i = 0; i < 200; i++) {
            await outbox.publishEvent({ type: "t", source: "bench", data: { i }, ...(keyed ? { orderingKey: `k${i % KEYS}` } : {}) }, { tx });
          }
          (keyed ? times.singleKeyed : times.single).push(((performance.now() - started) * 1000) / 200);
          started = performance.now();
          for (let b = 0; b < 2; b++) {
            await outbox.publishEvents(Array.from({ length: 1000 }, (_, i) => ({
              type: "t", source: "bench", data: { i }, ...(keyed ? { orderingKey: `k${i % KEYS}` } : {}),
            })), { tx });
          }
          (keyed ? times.bulkKeyed : times.bulk).push(((performance.now() - started) * 1000) / 2000);
        }
      }
    });
    return { single: median(times.single), singleKeyed: median(times.singleKeyed), bulk: median(times.bulk), bulkKeyed: median(times.bulkKeyed) };
  });
}

async function withOutbox<T>(body: (outbox: Outbox) => Promise<T>, options: Partial<ConstructorParameters<typeof Outbox>[0]> = {}): Promise<T> {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  const schema = `bench_ordering_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const outbox = new Outbox({ sql, schema, logger: quiet, ...options });
  await outbox.migrate();
  try {
    return await body(outbox);
  } finally {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end({ timeout: 2 });
  }
}

let cost: Awaited<ReturnType<typeof statementCost>> | null = null;
const figures: Array<[string, string, () => Promise<number>]> = [
  ["publish statement in an open transaction, single, no key", "us/event", async () => (cost = await statementCost()).single],
  [`publish statement in an open transaction, single, ${KEYS} keys`, "us/event", async () => cost!.singleKeyed],
  ["publish statement in an open transaction, batch of 1,000, no key", "us/event", async () => cost!.bulk],
  [`publish statement in an open transaction, batch of 1,000, ${KEYS} keys`, "us/event", async () => cost!.bulkKeyed],
  [`${UNRELATED} unrelated events behind ${BLOCKED.toLocaleString("en")} blocked, publish to delivery`, "ms", unrelatedBehindBlocked],
  ["publish, 1 event/tx, 8 producers, no key", "events/s", () => single(false, 5)],
  [`publish, 1 event/tx, 8 producers, ${KEYS} keys`, "events/s", () => single(true, 5)],
  ["bulk publish, batches of 1,000, no key", "events/s", () => bulk(false, 5)],
  [`bulk publish, batches of 1,000, ${KEYS} keys`, "events/s", () => bulk(true, 5)],
];
const results = figures.map(() => [] as number[]);
for (let r = 0; r < runs; r++) {
  for (const [i, [label, unit, run]] of figures.entries()) {
    const value = await run();
    results[i].push(value);
    process.stderr.write(`  run ${r + 1}: ${label}: ${value.toFixed(1)} ${unit}\n`);
    if (!label.startsWith("publish statement")) await sleep(500);
  }
}
console.log("| figure | unit | median | runs |\n|---|---|--:|---|");
for (const [i, [label, unit]] of figures.entries()) {
  const digits = unit === "us/event" ? 1 : 0;
  console.log(`| ${label} | ${unit} | ${median(results[i]).toFixed(digits)} | ${results[i].map((v) => v.toFixed(digits)).join(", ")} |`);
}
