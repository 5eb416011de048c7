import { readFileSync } from "node:fs";

/**
 * The package's version, read from its manifest next to the running CLI: `../../package.json` from the sources
 * (`src/cli/`, as Bun and Deno run them), `../../../package.json` from the build (`dist/src/cli/`, as Node runs it),
 * or deno.json beside the sources when they come from JSR. "unknown" when none is found.
 *
 * @example
 * ```ts
 * process.stdout.write(`${await packageVersion()}\n`); // 0.1.0
 * ```
 */
export async function packageVersion(): Promise<string> {
  for (const [path, name] of MANIFESTS) {
    const url = new URL(path, import.meta.url);
    try {
      const text = url.protocol === "file:" ? readFileSync(url, "utf8") : await (await fetch(url)).text();
      const manifest = JSON.parse(text) as { name?: unknown; version?: unknown };
      if (manifest.name === name && typeof manifest.version === "string") return manifest.version;
    } catch {
      // not this layout; try the next
    }
  }
  return "unknown";
}

const MANIFESTS: [string, string][] = [
  ["../../package.json", "pg-dispatch"],
  ["../../../package.json", "pg-dispatch"],
  ["../../deno.json", "@pg-dispatch/pg-dispatch"],
];
