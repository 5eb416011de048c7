// The core and the adapters run on Deno, Bun, Node and edge runtimes, so they speak Web APIs only: no `node:` module
// (and no bare Node built-in like "fs") outside the CLI entry (src/cli.ts, src/cli/).
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const CHECKED = ["mod.ts", "src", "adapters"];
const ALLOWED = /^src\/cli(\.ts$|\/)/;
const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith("_")));

/** Every module specifier a TypeScript source imports, exports from, or loads with import()/require(). */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^"'`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\b(?:import|require)\s*\(\s*["'`]([^"'`]+)["'`]/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1]);
  return found;
}

/** The specifiers that name a Node built-in: `node:*`, or a bare built-in name like "fs" or "fs/promises". */
function nodeImports(source: string): string[] {
  return specifiers(source).filter((s) => s.startsWith("node:") || BUILTINS.has(s) || BUILTINS.has(s.split("/")[0]));
}

function tsFiles(path: string): string[] {
  const full = join(ROOT, path);
  if (path.endsWith(".ts")) return [full];
  return readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(full, f));
}

describe("the core imports no Node built-in outside the CLI", () => {
  test("the scanner sees every import form", () => {
    const sample = [
      'import { readFileSync } from "node:fs";',
      'import process from "process";',
      'export { x } from "node:path";',
      'import "node:net";',
      'const m = await import("node:crypto");',
      'const t = await import("fs/promises");',
      'import type {\n  Sql,\n} from "postgres";',
      'import { a } from "./store/claim.ts";',
    ].join("\n");
    expect(nodeImports(sample)).toEqual(["node:fs", "process", "node:path", "node:net", "node:crypto", "fs/promises"]);
  });

  test("mod.ts, src/ (except src/cli*) and adapters/ import none", () => {
    const files = CHECKED.flatMap(tsFiles).map((f) => relative(ROOT, f).replaceAll("\\", "/"));
    expect(files).toContain("src/outbox.ts");
    expect(files).toContain("adapters/webhook.ts");
    const offenders = files
      .filter((f) => !ALLOWED.test(f))
      .flatMap((f) => nodeImports(readFileSync(join(ROOT, f), "utf8")).map((s) => `${f} imports "${s}"`));
    expect(offenders, "use Web APIs in the core and adapters; Node built-ins belong in src/cli*").toEqual([]);
  });
});
