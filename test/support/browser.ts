// A real browser for UI tests: Debian's chromium driven by playwright-core (`apt-get install -y chromium`).
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Launches headless chromium with the flags that keep it off the network (it has none to reach here). */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
