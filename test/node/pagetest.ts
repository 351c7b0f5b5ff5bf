/**
 * For a test file that drives a page in Chromium: a `wrangler dev` and a
 * headless Chromium (chromium.ts), started side by side before its tests and
 * stopped after them. Read `server` and `browser` inside the tests.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { launchChromium } from "./chromium.ts";
import { type DevServer, startDevServer } from "./devserver.ts";

export interface PageTestSetup {
  server: DevServer;
  browser: Browser;
}

export function serverAndChromium(): PageTestSetup {
  const setup = {} as PageTestSetup;
  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startDevServer(), launchChromium()]);
    if (started.status === "fulfilled") setup.server = started.value;
    if (launched.status === "fulfilled") setup.browser = launched.value.browser;
    for (const r of [started, launched]) if (r.status === "rejected") throw r.reason;
  });
  afterAll(async () => {
    await setup.browser?.close();
    await setup.server?.stop();
  });
  return setup;
}
