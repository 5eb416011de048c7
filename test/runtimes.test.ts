// One codebase, three runtimes: the conformance scenario (test/conformance.ts) under Node (built JS), Deno and Bun,
// the CLI worker under each, and the npm tarball installed into fresh Node, Bun and Deno projects (offline when the npm
// and Bun caches are warm; with a cold cache they fetch what is missing once, and say so).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Outbox } from "../mod.ts";
import { connect, schemaName, waitFor } from "./support/db.ts";
import { emulatorAvailable, type RunningEmulator, startEmulator } from "./support/emulator.ts";
import { BUN, DENO, ROOT, RUNTIME_NAMES as NAMES, RUNTIMES, runCommand } from "./support/runtimes.ts";

const TSC = join(ROOT, "node_modules", ".bin", "tsc");
const run = promisify(execFile);

let emulator: RunningEmulator | null = null;

beforeAll(async () => {
  // Node 20 cannot run .ts: the global setup built the package and the scenario into dist/ (the Node runs and the
  // tarball use it).
  if (emulatorAvailable()) emulator = await startEmulator();
}, 120_000);

afterAll(async () => {
  await emulator?.stop();
});

describe("the conformance scenario passes on every runtime", () => {
  test.each(NAMES)("%s", async (name) => {
    const { command, args } = RUNTIMES[name]("test/conformance.ts");
    const outcome = await runCommand(command, args, { timeoutMs: 90_000 });
    expect(outcome.code, `conformance on ${name} failed:\n${outcome.output}`).toBe(0);
    expect(outcome.output).toMatch(new RegExp(`PASSED on ${name}`));
    if (emulator) expect(outcome.output).toContain("Pub/Sub subscription received every event");
  }, 120_000);
});

describe("the CLI worker starts, delivers and stops cleanly with SIGTERM on every runtime", () => {
  const schema = schemaName("cli");
  const sql = connect();
  const outbox = new Outbox({ sql, schema, logger: { debug() {}, info() {}, warn() {}, error() {} } });

  beforeAll(async () => {
    await outbox.migrate();
  });

  afterAll(async () => {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await sql.end({ timeout: 1 });
  });

  test.each(NAMES)("%s", async (name) => {
    const { command, args } = RUNTIMES[name]("src/cli.ts");
    const child = spawn(command, [...args, "worker", "--config", "test/fixtures/dispatch.config.mjs"], {
      cwd: ROOT,
      env: { ...process.env, PGD_CLI_SCHEMA: schema },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once("close", (code, signal) => resolve({ code, signal }))
    );
    try {
      await waitFor(() => /worker started/.test(output) || child.exitCode !== null, `the ${name} CLI worker to start`, 30_000);
      expect(output, `the ${name} CLI worker did not start`).toMatch(/worker started/);
      // The config's handler refuses an event meant for another runtime, so "published" means this process delivered.
      const event = await outbox.publishEvent({ type: "cli.ping", source: "runtimes-test", data: { runtime: name } });
      const done = await waitFor(async () => {
        const e = await outbox.getEvent(event.id);
        return e && e.status !== "pending" && e.status !== "processing" ? e : null;
      }, `the ${name} CLI worker to deliver an event`, 20_000);
      expect(done.status, JSON.stringify(done.deliveries)).toBe("published");
      child.kill("SIGTERM");
      const exit = await withDeadline(closed, 20_000, `the ${name} CLI worker to exit after SIGTERM:\n${output}`);
      expect(exit, output).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/"stopping".*"SIGTERM"|SIGTERM.*stopping/);
    } finally {
      killIfRunning(child);
    }
  }, 60_000);
});

describe("the npm tarball installs and works in fresh projects", () => {
  let dir: string;
  let tarball: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pgd-pack-"));
    // dist/ is fresh from the build above, so skip the prepack build.
    const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, packed.filename);
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["dist/mod.js", "dist/mod.d.ts", "dist/adapters/webhook.js", "dist/src/cli.js", "mod.ts"]));
    expect(paths.filter((p) => /^dist\/(test|bench|examples)\//.test(p)), "test, bench and example builds stay out").toEqual([]);
    // The README's and the docs' relative links work for a reader of the installed package (npm shows the README too).
    for (const doc of ["README.md", ...paths.filter((p) => /^docs\/.*\.md$/.test(p))]) {
      expect(paths, "the docs are packed").toContain(doc);
      const text = readFileSync(join(ROOT, doc), "utf8");
      for (const [, target] of text.matchAll(/\]\((?!https?:|#|mailto:)([^)#\s]+)/g)) {
        expect(paths, `${doc} links to ${target}`).toContain(join(doc, "..", target));
      }
    }
    expect(paths).toEqual(expect.arrayContaining(["docs/cli.md", "docs/router.md", "docs/runtimes.md"]));
    // npm's page links to the source and the issues from these; without them it shows neither.
    const meta = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(meta.repository?.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(meta.homepage).toMatch(/^https:\/\//);
    expect(meta.bugs?.url).toMatch(/^https:\/\//);
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh project with the consumer script, the tarball installed by `install(project)`. */
  function freshProject(name: string): string {
    const project = join(dir, name);
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: `${name}-app`, private: true, type: "module" }));
    copyFileSync(join(ROOT, "test/fixtures/tarball-consumer.mjs"), join(project, "consumer.mjs"));
    return project;
  }

  async function consume(command: string, project: string, script = "consumer.mjs"): Promise<Record<string, unknown>> {
    const outcome = await runCommand(command, [script], {
      cwd: project,
      env: { ...process.env, PGD_SCHEMA: schemaName("pack") },
      timeoutMs: 30_000,
    });
    expect(outcome.code, outcome.output).toBe(0);
    return JSON.parse(outcome.output.trim().split("\n").pop()!);
  }

  test("npm install of the tarball, offline from the npm cache: Node runs the built JS, tsc finds the types", async () => {
    const project = freshProject("node");
    const flags = ["--no-audit", "--no-fund", "--ignore-scripts"];
    await run("npm", ["install", "--offline", ...flags, tarball], { cwd: project }).catch(async (error) => {
      // A cold npm cache: fetch what is missing once, and say so.
      console.warn(`npm install --offline failed (${String(error).split("\n")[0]}); retrying with --prefer-offline`);
      await run("npm", ["install", "--prefer-offline", ...flags, tarball], { cwd: project });
    });
    expect(readdirSync(join(project, "node_modules")), "optional peers are not installed").not.toContain("hono");
    const result = await consume(process.execPath, project);
    expect(result).toMatchObject({ status: "published", delivered: true, handledOnce: true, body: JSON.stringify({ ok: true }) });
    expect(result.entry).toMatch(/node_modules\/pg-dispatch\/dist\/mod\.js$/);
    copyFileSync(join(ROOT, "test/fixtures/tarball-pubsub-missing.mjs"), join(project, "pubsub-missing.mjs"));
    expect(await consume(process.execPath, project, "pubsub-missing.mjs"), "a missing @google-cloud/pubsub is reported at start").toMatchObject({
      started: false,
      code: "destination_unavailable",
      message: expect.stringMatching(/^Destination "pubsub:events" cannot start: Could not load "@google-cloud\/pubsub".*install it \(npm install @google-cloud\/pubsub\)/),
    });
    const cli = await runCommand(join(project, "node_modules", ".bin", "pg-dispatch"), ["--help"], { cwd: project, timeoutMs: 30_000 });
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(/^Usage: pg-dispatch/);

    copyFileSync(join(ROOT, "test/fixtures/tarball-consumer-types.ts"), join(project, "check.ts"));
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], strict: true, noEmit: true, types: [], skipLibCheck: true },
      files: ["check.ts"],
    }));
    const checked = await runCommand(TSC, ["-p", "tsconfig.json"], { cwd: project, timeoutMs: 30_000 });
    expect(checked.code, checked.output).toBe(0);
  }, 60_000);

  test("a project `npm init -y` made, set up as README's Install says: tsc compiles README's Setup block", async () => {
    // npm init -y makes a CommonJS package, where the ESM-only package's top-level-await setup does not compile: the
    // README must say so and give the fix. Its Install section is followed as written.
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const install = /^## Install\n([\s\S]*?)^## /m.exec(readme)![1];
    const fix = /`(npm pkg set type=module)`/.exec(install)?.[1];
    expect(fix, "README's Install section gives the command that makes a Node project ESM").toBeDefined();
    const moduleOption = /TypeScript `"module": "(\w+)"`/.exec(install)?.[1];
    expect(moduleOption, "README's Install section names the TypeScript module setting").toBeDefined();
    const setup = /^## Setup\n+```ts\n([\s\S]*?)^```/m.exec(readme)![1];

    const project = join(dir, "npm-init");
    mkdirSync(project);
    await run("npm", ["init", "-y"], { cwd: project });
    const flags = ["--no-audit", "--no-fund", "--ignore-scripts"];
    await run("npm", ["install", "--offline", ...flags, tarball, "postgres"], { cwd: project }).catch(async (error) => {
      console.warn(`npm install --offline failed (${String(error).split("\n")[0]}); retrying with --prefer-offline`);
      await run("npm", ["install", "--prefer-offline", ...flags, tarball, "postgres"], { cwd: project });
    });
    writeFileSync(join(project, "index.ts"), setup);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        module: moduleOption, target: "es2022", strict: true, noEmit: true, skipLibCheck: true,
        types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")],
      },
      files: ["index.ts"],
    }));
    const before = await runCommand(TSC, ["-p", "tsconfig.json"], { cwd: project, timeoutMs: 30_000 });
    expect(before.output, "as npm init -y leaves it, the project is CommonJS").toContain("TS1309");
    await run("npm", fix!.split(" ").slice(1), { cwd: project });
    const after = await runCommand(TSC, ["-p", "tsconfig.json"], { cwd: project, timeoutMs: 30_000 });
    expect(after.code, after.output).toBe(0);
  }, 60_000);

  test("bun add of the same tarball: Bun runs the TypeScript sources", async () => {
    const project = freshProject("bun");
    await run(BUN, ["add", "--offline", tarball], { cwd: project }).catch(async (error) => {
      // Bun keeps its own cache; a cold one needs the registry once.
      console.warn(`bun add --offline failed (${String(error).split("\n")[0]}); retrying with --prefer-offline`);
      await run(BUN, ["add", "--prefer-offline", tarball], { cwd: project });
    });
    const result = await consume(BUN, project);
    expect(result).toMatchObject({ status: "published", delivered: true, handledOnce: true, body: JSON.stringify({ ok: true }) });
    expect(result.entry).toMatch(/node_modules\/pg-dispatch\/mod\.ts$/);
    // Without --bun, bunx follows the bin's `#!/usr/bin/env node` and runs Node.
    const cli = await runCommand(BUN, ["x", "--bun", "pg-dispatch", "--help"], { cwd: project, timeoutMs: 30_000 });
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(/^Usage: pg-dispatch/);
  }, 60_000);
  test("npm install of the same tarball into a Deno project: deno check finds the types, the conformance scenario passes", async () => {
    const project = freshProject("deno");
    const flags = ["--no-audit", "--no-fund", "--ignore-scripts"];
    // The scenario mounts the router and publishes to Pub/Sub, so the optional peers come too (at the versions this
    // repository tests, which the npm cache holds); its Node branch names @hono/node-server, which deno check reads.
    const dev = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
    const packages = [tarball, ...["hono", "@google-cloud/pubsub", "@hono/node-server"].map((name) => `${name}@${dev[name]}`)];
    await run("npm", ["install", "--offline", ...flags, ...packages], { cwd: project }).catch(async (error) => {
      console.warn(`npm install --offline failed (${String(error).split("\n")[0]}); retrying with --prefer-offline`);
      await run("npm", ["install", "--prefer-offline", ...flags, ...packages], { cwd: project });
    });
    // The repository's scenario, importing the package by name instead of by path.
    const byName: Record<string, string> = {
      "../adapters/dashboard.ts": "pg-dispatch/dashboard",
      "../adapters/hono.ts": "pg-dispatch/hono",
      "../adapters/pubsub.ts": "pg-dispatch/pubsub",
      "../adapters/webhook.ts": "pg-dispatch/webhook",
      "../mod.ts": "pg-dispatch",
      "../../mod.ts": "pg-dispatch",
    };
    const rewrite = (from: string, to: string) => {
      let text = readFileSync(join(ROOT, from), "utf8");
      for (const [path, name] of Object.entries(byName)) text = text.replaceAll(`from "${path}"`, `from "${name}"`);
      expect(text, `${from} still imports the repository by path`).not.toMatch(/from "\.\.\//);
      mkdirSync(join(project, "support"), { recursive: true });
      writeFileSync(join(project, to), text);
    };
    rewrite("test/conformance.ts", "conformance.ts");
    rewrite("test/conformance-dashboard.ts", "conformance-dashboard.ts");
    rewrite("test/support/db.ts", "support/db.ts");
    rewrite("test/support/runtime.ts", "support/runtime.ts");
    const env = { ...process.env, NO_COLOR: "1" };
    const checked = await runCommand(DENO, ["check", "conformance.ts"], { cwd: project, env, timeoutMs: 60_000 });
    expect(checked.code, checked.output).toBe(0);
    const outcome = await runCommand(DENO, ["run", "-A", "conformance.ts"], { cwd: project, env, timeoutMs: 90_000 });
    expect(outcome.output).not.toContain("ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING");
    expect(outcome.code, `conformance on Deno with the npm package failed:\n${outcome.output}`).toBe(0);
    expect(outcome.output).toMatch(/PASSED on deno/);
    if (emulator) expect(outcome.output).toContain("Pub/Sub subscription received every event");
    // The CLI line docs/cli.md gives for Deno in an npm project.
    const cli = await runCommand(DENO, ["run", "-A", "./node_modules/pg-dispatch/dist/src/cli.js", "--help"], { cwd: project, env, timeoutMs: 30_000 });
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(/^Usage: pg-dispatch/);
  }, 180_000);
});

describe("the JSR package", () => {
  test("deno lint is clean and deno publish --dry-run passes (type check of every export, no slow types)", async () => {
    const env = { ...process.env, NO_COLOR: "1" };
    const lint = await runCommand(DENO, ["lint"], { env, timeoutMs: 60_000 });
    expect(lint.code, lint.output).toBe(0);
    const publish = await runCommand(DENO, ["publish", "--dry-run", "--allow-dirty"], { env, timeoutMs: 120_000 });
    expect(publish.code, publish.output).toBe(0);
    expect(publish.output).toContain("Success Dry run complete");
    expect(publish.output).not.toMatch(/^(error|warning)\[(?!unanalyzable-dynamic-import)/m); // the CLI imports the user's config
    expect(publish.output, "tests stay out of the JSR package").not.toMatch(/file:\/\/\/.*\/test\//);
  }, 150_000);
});

function killIfRunning(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
