/**
 * The interactive API reference in a real headless Chromium against
 * `wrangler dev`: /v1/docs renders the routes of the generated OpenAPI
 * document, the conversations route among them, with every request the page
 * makes going to this server (any other host is refused, as it would be
 * offline). The page's HTML and API_DOCS=off are test/worker/api-docs.test.ts.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "./devserver.ts";
import { serverAndChromium } from "./pagetest.ts";

const setup = serverAndChromium();

it("renders every /v1 route from this server alone, the conversations route among them", async () => {
  const page = await setup.browser.newPage();
  const elsewhere: string[] = [];
  const loaded: string[] = [];
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${setup.server.url}/`)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  page.on("response", (res) => loaded.push(`${res.status()} ${new URL(res.url()).pathname}`));

  await page.goto(`${setup.server.url}/v1/docs`);
  const route = page.locator('.opblock-summary-path[data-path="/v1/conversations"]').first();
  await route.waitFor({ timeout: 30_000 });
  await route.click(); // expands it: the page is interactive, not only a list
  await page.locator(".opblock.is-open .opblock-section-header").first().waitFor({ timeout: 10_000 });
  mkdirSync(join(ROOT, "test-results", "browser"), { recursive: true });
  await page.screenshot({ path: join(ROOT, "test-results", "browser", "api-docs.png") });

  expect(elsewhere).toEqual([]);
  expect(errors).toEqual([]);
  expect(loaded).toEqual(
    expect.arrayContaining([
      "200 /v1/docs",
      "200 /v1/docs/assets/swagger-ui-dist/swagger-ui-bundle.js",
      "200 /v1/docs/assets/swagger-ui-dist/swagger-ui.css",
      "200 /v1/openapi.json",
    ]),
  );
  expect(await page.locator(".opblock-summary-path").count()).toBeGreaterThan(10);
  await page.close();
});
