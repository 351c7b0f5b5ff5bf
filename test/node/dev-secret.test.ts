/**
 * `npm start` and `npm run token` must agree on the development secret, or
 * the tokens the README tells people to use would be refused.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { DEV_API_KEY, DEV_AUTH_SECRET } from "../../src/auth/devtoken.ts";
import { ROOT } from "./devserver.ts";

it("npm start runs with the secret npm run token signs with, and with dev tokens on", () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { scripts: Record<string, string> };
  expect(pkg.scripts.start).toContain(`--var AUTH_SECRET:${DEV_AUTH_SECRET}`);
  expect(pkg.scripts.start).toContain("--var DEV_TOKENS:on");
  expect(readFileSync(`${ROOT}/wrangler.toml`, "utf8")).not.toContain(DEV_AUTH_SECRET);
});

it("npm start runs with the server API key npm run admin uses, and wrangler.toml has none", () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { scripts: Record<string, string> };
  expect(pkg.scripts.start).toContain(`--var API_KEY:${DEV_API_KEY}`);
  expect(readFileSync(`${ROOT}/src/cli/admin.ts`, "utf8")).toContain("DEV_API_KEY");
  expect(readFileSync(`${ROOT}/wrangler.toml`, "utf8")).not.toContain(DEV_API_KEY);
});
