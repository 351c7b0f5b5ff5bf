/**
 * Finds a Chromium for the browser tests without downloading one: the
 * CHROMIUM_PATH a user sets, else a system Chromium or Chrome, else the
 * binary shipped inside the npm package @sparticuz/chromium (a devDependency:
 * it unpacks to /tmp on first use, no network). Never `npx playwright install`.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Flags for a headless Chromium in a sandbox with no network beyond loopback. */
const SYSTEM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const SYSTEM_PATHS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];

export interface LaunchedChromium {
  browser: Browser;
  /** Which one: for the test log. */
  source: string;
}

export async function launchChromium(): Promise<LaunchedChromium> {
  const chosen = process.env.CHROMIUM_PATH || SYSTEM_PATHS.find((p) => existsSync(p));
  if (chosen) {
    const browser = await chromium.launch({ executablePath: chosen, args: SYSTEM_ARGS });
    return { browser, source: `${chosen} (${browser.version()})` };
  }
  // Its own args (built for a locked-down sandbox: no zygote, software GL), but
  // not --single-process: with it a second browser context crashes the browser.
  const packaged = (await import("@sparticuz/chromium")).default;
  const executablePath = await packaged.executablePath();
  const args = [...packaged.args.filter((a) => a !== "--single-process"), "--disable-background-networking", "--no-first-run"];
  const browser = await chromium.launch({ executablePath, args });
  return { browser, source: `@sparticuz/chromium at ${executablePath} (${browser.version()})` };
}
