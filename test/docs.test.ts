// Every TypeScript and JavaScript block of README.md and docs/*.md, as a reader would copy it: type-checked against the
// package's published types (Node blocks with tsc and @types/node, Bun blocks with bun-types, Deno blocks with
// `deno check`), and the runnable ones run. A block says what it is in an HTML comment on the line before its fence
// (invisible on GitHub and npm):
//
//   <!-- snippet: uses=outbox,sql -->    a fragment: it uses these names from the surrounding text (declared below,
//                                        with their real types); anything else it needs it must import or define
//   <!-- snippet: file=outbox.ts -->      written under this name, so the doc's other blocks can import it
//   <!-- snippet: run=app -->             a complete program: started with DATABASE_URL, PORT and OUTBOX_TOKEN, it must
//                                        answer GET /outbox/health, then exit 0 on SIGTERM, promptly
//   <!-- snippet: run=config -->          a CLI config module: `pg-dispatch migrate --config <file>` must load it
//
// A block without `uses` must compile on its own.
import { freePort } from "../examples/embedded-postgres.ts";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, databaseUrl, waitFor } from "./support/db.ts";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "node_modules", ".bin");
// Inside the repository, so that "pg-dispatch" resolves to this package (its exports: dist/ for Node and types, the
// sources for Bun) as it would in an app's node_modules. Ignored by git and outside every tsconfig's include.
const OUT = join(ROOT, ".docs-check");
const run = promisify(execFile);

type Runtime = "node" | "bun" | "deno";
interface Block {
  doc: string;
  line: number;
  lang: string;
  code: string;
  runtime: Runtime;
  uses: string[];
  file: string;
  run?: "app" | "config";
}

/** The names a fragment may take from its surrounding text, with the types the text gives them. */
const CONTEXT: Record<string, { imports: string[]; type: string }> = {
  outbox: { imports: ['import type { Outbox } from "pg-dispatch";'], type: "Outbox" },
  sql: { imports: ['import type { Sql } from "postgres";'], type: "Sql" },
  event: { imports: ['import type { PublishedEvent } from "pg-dispatch";'], type: "PublishedEvent" },
  data: { imports: [], type: "{ amount: number }" },
  id: { imports: [], type: "string" },
  type: { imports: [], type: "string | undefined" },
  source: { imports: [], type: "string | undefined" },
  cursor: { imports: [], type: "string | undefined" },
  username: { imports: [], type: "string" },
  email: { imports: [], type: "string" },
  getToken: { imports: [], type: "() => Promise<string>" },
};

function extract(doc: string): Block[] {
  const lines = readFileSync(join(ROOT, doc), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.indexOf("```", i + 1);
    if (end < 0) throw new Error(`${doc}:${i + 1}: unclosed code block`);
    const lang = open[1];
    if (["ts", "typescript", "js", "javascript"].includes(lang)) {
      const code = lines.slice(i + 1, end).join("\n");
      const marker = /^<!-- snippet:(.*)-->$/.exec(lines[i - 1] ?? "")?.[1] ?? "";
      const options = Object.fromEntries(marker.trim().split(/\s+/).filter(Boolean).map((kv) => kv.split("=") as [string, string]));
      const js = lang.startsWith("j");
      const n = blocks.length + 1;
      blocks.push({
        doc,
        line: i + 1,
        lang,
        code,
        runtime: /\bDeno\./.test(code) ? "deno" : /\bBun\./.test(code) ? "bun" : "node",
        uses: options.uses ? options.uses.split(",") : [],
        file: options.file ?? `block${String(n).padStart(2, "0")}-line${i + 1}.${js ? "mjs" : "ts"}`,
        run: options.run as Block["run"],
      });
    }
    i = end;
  }
  return blocks;
}

const DOCS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const BLOCKS = DOCS.flatMap(extract);
const dirOf = (b: Block) => join(OUT, basename(b.doc, ".md"));
const where = (b: Block) => `${b.doc}:${b.line}`;

/** A fragment's prelude: type-only imports under private names, and a declaration per name it uses. */
function prelude(b: Block): string {
  const lines: string[] = [];
  for (const name of b.uses) {
    const context = CONTEXT[name];
    if (!context) throw new Error(`${where(b)}: uses=${name}, which the docs test does not know; add it to CONTEXT`);
    for (const i of context.imports) lines.push(i.replace(/import type \{ (\w+) \}/, "import type { $1 as __$1 }"));
    const type = context.type.replace(/^(Outbox|Sql|PublishedEvent)$/, "__$1");
    lines.push(`declare const ${name}: ${type};`);
  }
  return lines.length ? `${lines.join(" ")} // the docs test's prelude: names this fragment takes from the text\n` : "";
}

beforeAll(() => {
  rmSync(OUT, { recursive: true, force: true });
  for (const b of BLOCKS) {
    mkdirSync(dirOf(b), { recursive: true });
    // A module either way (top-level await); a fragment's prelude shares the first line so line numbers stay true.
    writeFileSync(join(dirOf(b), b.file), `${prelude(b)}${b.code}\nexport {};\n`);
  }
  const files = (runtime: Runtime) => BLOCKS.filter((b) => b.runtime === runtime).map((b) => join(dirOf(b), b.file));
  const base = {
    target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2023", "DOM", "DOM.Iterable"], strict: true,
    allowJs: true, checkJs: true, allowImportingTsExtensions: true, rewriteRelativeImportExtensions: true, skipLibCheck: true,
    verbatimModuleSyntax: true,
  };
  writeFileSync(join(OUT, "tsconfig.node.json"), JSON.stringify({
    compilerOptions: { ...base, types: ["node"], outDir: "out", rootDir: "." },
    files: files("node"),
  }));
  writeFileSync(join(OUT, "tsconfig.bun.json"), JSON.stringify({ compilerOptions: { ...base, types: ["bun-types"], noEmit: true }, files: files("bun") }));
  // Deno: the JSR name and the npm name both map to this package; npm dependencies come from the repository's node_modules.
  const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as { exports: Record<string, string>; imports: Record<string, string> };
  const imports: Record<string, string> = { ...deno.imports };
  for (const [sub, path] of Object.entries(deno.exports)) {
    for (const name of ["@pg-dispatch/pg-dispatch", "pg-dispatch"]) imports[`${name}${sub.slice(1)}`] = join(ROOT, path);
  }
  writeFileSync(join(OUT, "deno.json"), JSON.stringify({ imports, nodeModulesDir: "manual" }));
  symlinkSync(join(ROOT, "node_modules"), join(OUT, "node_modules"));
});

afterAll(() => {
  rmSync(OUT, { recursive: true, force: true });
});

test("every ts/js block of README.md and docs/*.md is found, and each fragment says what it takes from the text", () => {
  expect(BLOCKS.length).toBeGreaterThan(20);
  for (const b of BLOCKS) for (const name of b.uses) expect(CONTEXT, `${where(b)} uses ${name}`).toHaveProperty(name);
});

/** tsc's or deno's diagnostics, with the generated paths turned back into doc:line. */
function diagnostics(output: string): string {
  return output.replace(/\.docs-check\/(\w+)\/block\d+-line(\d+)\.m?[jt]s(?:\((\d+),(\d+)\)|:(\d+):(\d+))/g, (...m) =>
    `${m[1] === "README" ? "README" : `docs/${m[1]}`}.md:${Number(m[2]) + Number(m[3] ?? m[5])}:${m[4] ?? m[6]}`);
}

describe("type-check", () => {
  test("Node blocks (tsc, @types/node, the package's .d.ts)", async () => {
    const result = await run(join(BIN, "tsc"), ["-p", join(OUT, "tsconfig.node.json")], { cwd: ROOT }).catch((e) => e);
    expect(diagnostics(`${result.stdout ?? ""}${result.stderr ?? ""}`)).toBe("");
  }, 60_000);

  test("Bun blocks (tsc, bun-types)", async () => {
    const result = await run(join(BIN, "tsc"), ["-p", join(OUT, "tsconfig.bun.json")], { cwd: ROOT }).catch((e) => e);
    expect(diagnostics(`${result.stdout ?? ""}${result.stderr ?? ""}`)).toBe("");
  }, 60_000);

  test("Deno blocks (deno check)", async () => {
    const files = BLOCKS.filter((b) => b.runtime === "deno").map((b) => join(dirOf(b), b.file));
    expect(files.length).toBeGreaterThan(0);
    const result = await run(join(BIN, "deno"), ["check", "--config", join(OUT, "deno.json"), ...files], {
      cwd: OUT,
      env: { ...process.env, NO_COLOR: "1" },
    }).catch((e) => e);
    expect(result.code ?? 0, diagnostics(`${result.stdout ?? ""}${result.stderr ?? ""}`)).toBe(0);
  }, 90_000);
});

describe("run", () => {
  const admin = connect({ max: 1 });
  const database = `docs_${Date.now().toString(36)}`;
  let url: string;

  beforeAll(async () => {
    await admin.unsafe(`create database ${database}`);
    const u = new URL(databaseUrl());
    u.pathname = `/${database}`;
    url = u.href;
  });

  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end({ timeout: 1 });
  });

  const env = () => ({ ...process.env, DATABASE_URL: url, OUTBOX_TOKEN: "docs-token", WEBHOOK_SECRET: "whsec_ZG9jcy10ZXN0LXNlY3JldA==", NO_COLOR: "1" });

  const apps = BLOCKS.filter((b) => b.run === "app");
  test("the runnable blocks are there: an app per runtime, and a CLI config", () => {
    expect(apps.map((b) => b.runtime).sort()).toEqual(["bun", "deno", "node"]);
    expect(BLOCKS.filter((b) => b.run === "config")).toHaveLength(1);
  });

  test.each(apps.map((b) => [`${b.runtime} app at ${where(b)}`, b] as const))("%s serves, then exits 0 on SIGTERM", async (_, b) => {
    const port = await freePort();
    const file = join(dirOf(b), b.file);
    const [command, args] = b.runtime === "node"
      ? [process.execPath, [join(OUT, "out", basename(dirOf(b)), b.file.replace(/\.ts$/, ".js"))]]
      : b.runtime === "bun"
      ? [join(BIN, "bun"), [file]]
      : [join(BIN, "deno"), ["run", "-A", "--config", join(OUT, "deno.json"), file]];
    const child = spawn(command, args, { cwd: dirOf(b), env: { ...env(), PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c));
    child.stderr!.on("data", (c: Buffer) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const health = `http://127.0.0.1:${port}/outbox/health`;
      await waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`${where(b)} exited early (${child.exitCode}):\n${output}`);
        const res = await fetch(health, { headers: { authorization: "Bearer docs-token" } }).catch(() => null);
        return res?.status === 200;
      }, `${where(b)} to answer ${health}`, 30_000);
      const stopped = Date.now();
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<"still running">((r) => setTimeout(() => r("still running"), 10_000))]);
      expect(code, `${where(b)} after SIGTERM:\n${output}`).toBe(0);
      expect(Date.now() - stopped, "exits well before a process manager's stop timeout").toBeLessThan(10_000);
    } finally {
      kill(child);
    }
  }, 60_000);

  test("the CLI config loads as .mjs on this Node, through `pg-dispatch migrate --config`", async () => {
    const b = BLOCKS.find((x) => x.run === "config")!;
    expect(b.file).toMatch(/\.mjs$/);
    const result = await run(process.execPath, [join(ROOT, "dist/src/cli.js"), "migrate", "--config", `./${b.file}`], {
      cwd: dirOf(b),
      env: env(),
    }).catch((e) => e);
    expect(result.code ?? 0, `${result.stdout}${result.stderr}`).toBe(0);
  }, 30_000);
});

test("a config that does not load is reported with its file and line", async () => {
  // What copying a TypeScript config into a .mjs file gives on Node 20: a SyntaxError, which says no line by itself.
  const dir = join(OUT, "broken-config");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "typed.config.mjs"), 'import postgres from "postgres";\n\nconst sql = postgres(process.env.DATABASE_URL!);\n');
  writeFileSync(join(dir, "throws.config.mjs"), 'export const a = 1;\nthrow new Error("no project configured");\n');
  for (const [file, line, reason] of [["typed.config.mjs", 3, "SyntaxError"], ["throws.config.mjs", 2, "no project configured"]] as const) {
    const result = await run(process.execPath, [join(ROOT, "dist/src/cli.js"), "migrate", "--config", `./${file}`], { cwd: dir }).catch((e) => e);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`Config module \\./${file.replace(".", "\\.")}:${line}(:\\d+)? failed to load: .*${reason}`));
  }
}, 30_000);

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

