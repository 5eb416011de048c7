// A real browser for UI tests: Debian's chromium driven by playwright-core (`apt-get install -y chromium`).
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Launches headless chromium with the flags that keep it off the network (it has none to reach here). */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Whether the browser tests can run: under CI a missing chromium fails the run; elsewhere they are skipped, loudly.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === "true") throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium`);
  console.warn(`SKIPPED: the dashboard's browser tests need ${CHROMIUM} (apt-get install -y chromium).`);
  return false;
}
