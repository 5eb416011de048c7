// The operator's commands of the real CLI: bulk retry, replay, pause, resume and the paused destinations.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type EventRecord, PermanentError, type Worker } from "../mod.ts";
import { cli, json } from "./support/cli.ts";
import { type TestOutbox, testOutbox, waitFor } from "./support/db.ts";

describe("retry --status failed, replay, pause, resume and destinations act on the database", () => {
  let t: TestOutbox;
  let args: string[];
  let worker: Worker;
  let orders: EventRecord[];
  let users: EventRecord[];
  const calls: Record<string, number> = { audit: 0, mailer: 0 };
  let mailerDown = true;

  async function all(ids: string[], status: string): Promise<void> {
    await waitFor(async () => {
      for (const id of ids) if ((await t.outbox.getEvent(id))?.status !== status) return false;
      return true;
    }, `${ids.length} events ${status}`);
  }

  beforeAll(async () => {
    t = await testOutbox();
    args = ["--schema", t.schema];
    t.outbox.register("*", () => void calls.audit++, { name: "audit" });
    t.outbox.register("*", () => {
      calls.mailer++;
      if (mailerDown) throw new PermanentError("SMTP refused");
    }, { name: "mailer" });
    worker = t.outbox.worker({ sweepIntervalMs: 600_000 });
    await worker.start();
    orders = await t.outbox.publishEvents(Array.from({ length: 3 }, (_, i) => ({ type: "order.created", source: "shop", data: { i } })));
    users = await t.outbox.publishEvents(Array.from({ length: 2 }, (_, i) => ({ type: "user.created", source: "users", data: { i } })));
    await all([...orders, ...users].map((e) => e.id), "failed");
  });
  afterAll(async () => {
    await worker.stop();
    await t.drop();
  });

  test("retry --status failed counts with --dry-run, then retries only the filter's events", async () => {
    const dry = await cli(["retry", "--status", "failed", "--type-prefix", "order.", "--dry-run", ...args]);
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe("Would retry 3 events.\n");
    expect(json<{ events: number }>(await cli(["retry", "--status", "failed", "--source", "users", "--dry-run", ...args, "--json"]))).toEqual({ dryRun: true, events: 2 });
    const since = new Date(Date.now() + 60_000).toISOString();
    expect((await cli(["retry", "--status", "failed", "--since", since, "--dry-run", ...args])).stdout).toBe("Would retry 0 events.\n");
    mailerDown = false;
    const run = await cli(["retry", "--status", "failed", "--type-prefix", "order.", "--destination", "mailer", ...args]);
    expect(run.stdout).toBe("Retrying 3 events: their failed deliveries are due now.\n");
    await all(orders.map((e) => e.id), "published");
    for (const u of users) expect((await t.outbox.getEvent(u.id))?.status).toBe("failed");
    expect(calls.audit).toBe(5); // audit had delivered them all and was not called again
  });

  test("replay --destination sends finished events to that destination only", async () => {
    const auditBefore = calls.audit;
    const mailerBefore = calls.mailer;
    expect((await cli(["replay", "--destination", "mailer", "--status", "published", "--dry-run", ...args])).stdout).toBe("Would replay 3 events to mailer.\n");
    const run = json<{ events: number; destination: string }>(await cli(["replay", "--destination", "mailer", "--type", "order.created", ...args, "--json"]));
    expect(run).toEqual({ dryRun: false, destination: "mailer", events: 3 });
    await waitFor(() => calls.mailer === mailerBefore + 3, "mailer sent the orders again");
    await all(orders.map((e) => e.id), "published");
    expect(calls.audit).toBe(auditBefore);
    expect((await cli(["replay", "--destination", "mailer", "--source", "nobody", ...args])).stdout).toBe("No finished events match; nothing to replay.\n");
  });

  test("pause, destinations and resume, escaped in words and plain in JSON", async () => {
    const hostile = "crm\u001b]52;c;x\u0007";
    const paused = await cli(["pause", hostile, ...args]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^Paused crm\\x1b\]52;c;x\\x07 for every worker since \d{4}-.*until pg-dispatch resume\.\n$/);
    await cli(["pause", "billing", ...args]);
    const list = await cli(["destinations", ...args]);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^PAUSED DESTINATION\s+SINCE$/);
    expect(lines[1]).toMatch(/^billing\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(.*\)$/);
    expect(lines[2]).toMatch(/^crm\\x1b\]52;c;x\\x07\s+\d{4}-/);
    expect(list.stdout).not.toContain("\u001b");
    const listed = json<{ paused: Array<{ name: string; pausedAt: string }> }>(await cli(["destinations", ...args, "--json"]));
    expect(listed.paused.map((d) => d.name)).toEqual(["billing", hostile]);
    expect((await t.outbox.pausedDestinations()).map((d) => d.name)).toEqual(["billing", hostile]);

    expect((await cli(["resume", "billing", ...args])).stdout).toBe("Resumed billing: what waited for it is due now.\n");
    expect(json(await cli(["resume", "billing", ...args, "--json"]))).toEqual({ destination: "billing", resumed: false });
    await cli(["resume", hostile, ...args]);
    expect((await cli(["destinations", ...args])).stdout).toBe("No destination is paused.\n");
  });
});

describe("the operator's commands refuse bad command lines with exit 2 before touching the database", () => {
  test.concurrent.for<[string[], RegExp, string]>([
    [["retry"], /retry needs an event id, or --status failed/, "Usage: pg-dispatch retry"],
    [["retry", "--status", "published"], /--status must be one of failed, got "published"/, "Usage: pg-dispatch retry"],
    [["retry", "abc", "--status", "failed"], /--status filters a bulk retry; leave out the id/, "Usage: pg-dispatch retry"],
    [["retry", "--status", "failed", "--since", "yesterday"], /--since must be an ISO 8601 time/, "Usage: pg-dispatch retry"],
    [["retry", "--status", "failed", "--type", "a", "--type-prefix", "b"], /--type or --type-prefix, not both/, "Usage: pg-dispatch retry"],
    [["retry", "--status", "failed", "--since", "2025-02-01", "--until", "2025-01-01"], /--since must be earlier than --until/, "Usage: pg-dispatch retry"],
    [["replay", "--status", "published"], /replay needs --destination <name>/, "Usage: pg-dispatch replay"],
    [["replay", "--destination", "x", "--status", "pending"], /--status must be one of published, failed/, "Usage: pg-dispatch replay"],
    [["pause"], /pause needs <destination>/, "Usage: pg-dispatch pause"],
    [["resume", "a", "b"], /resume takes <destination>, got "a" "b"/, "Usage: pg-dispatch resume"],
    [["destinations", "x"], /destinations takes no arguments/, "Usage: pg-dispatch destinations"],
  ])("%j", async ([argv, message, usage], { expect }) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(usage);
  });
});
