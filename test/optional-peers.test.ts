// OpenTelemetry is an optional peer: the core must load and run where it is not installed (the Deno and Bun scenario
// in test/runtimes.test.ts runs without it). So only src/telemetry.ts names it, with type-only imports (erased) and
// one dynamic import() whose failure means "no OpenTelemetry".
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..");

function tsFiles(path: string): string[] {
  const full = join(ROOT, path);
  if (path.endsWith(".ts")) return [full];
  return readdirSync(full, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => join(full, f));
}

/** Static imports and re-exports of a module: `import x from "m"`, `import "m"`, `export ... from "m"`, not `import type`. */
function staticImports(source: string, module: string): string[] {
  const quoted = `["']${module.replace(/[/.]/g, "\\$&")}[^"']*["']`;
  const patterns = [
    new RegExp(`\\bimport\\s+(?!type\\s)[^"'\`;]*?\\bfrom\\s*${quoted}`, "g"),
    new RegExp(`\\bimport\\s*${quoted}`, "g"),
    new RegExp(`\\bexport\\s+(?!type\\s)[^"'\`;]*?\\bfrom\\s*${quoted}`, "g"),
  ];
  return patterns.flatMap((p) => [...source.matchAll(p)].map((m) => m[0]));
}

describe("@opentelemetry/api is loaded lazily, from one module", () => {
  test("the scanner tells static imports from type-only and dynamic ones", () => {
    const sample = [
      'import type * as OTel from "@opentelemetry/api";',
      'import { trace } from "@opentelemetry/api";',
      'import "@opentelemetry/api";',
      'export { trace } from "@opentelemetry/api";',
      'const m = await import("@opentelemetry/api");',
    ].join("\n");
    expect(staticImports(sample, "@opentelemetry/")).toHaveLength(3);
  });

  test("mod.ts, src/ and adapters/ never import it statically; only src/telemetry.ts names the module", () => {
    const files = ["mod.ts", "src", "adapters"].flatMap(tsFiles);
    const naming = files.filter((f) => /["']@opentelemetry\//.test(readFileSync(f, "utf8"))).map((f) => relative(ROOT, f).replaceAll("\\", "/"));
    expect(naming).toEqual(["src/telemetry.ts"]);
    const source = readFileSync(join(ROOT, "src/telemetry.ts"), "utf8");
    expect(staticImports(source, "@opentelemetry/")).toEqual([]);
    expect(source.match(/\bimport\(\s*["']@opentelemetry\/api["']\s*\)/g)).toHaveLength(1);
  });

  test("package.json declares it an optional peer, and deno.json maps it for Deno", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.peerDependencies["@opentelemetry/api"]).toBeDefined();
    expect(pkg.peerDependenciesMeta["@opentelemetry/api"]).toEqual({ optional: true });
    expect(pkg.dependencies["@opentelemetry/api"]).toBeUndefined();
    const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
    expect(deno.imports["@opentelemetry/api"]).toMatch(/^npm:@opentelemetry\/api@/);
  });
});
