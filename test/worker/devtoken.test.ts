/**
 * GET /dev/token is for development only: off under the wrangler.toml config
 * (what a deploy gets), on only where DEV_TOKENS is "on" (as `npm start` and
 * the end-to-end tests set it). Does not cover the page that uses it, nor
 * asset routing, which this pool's `exports.default` bypasses
 * (test/node/browser.test.ts covers both under wrangler dev).
 */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { uniqueUser, upgrade } from "./helpers.ts";

/** The Worker as `npm start` runs it: the same config plus DEV_TOKENS=on. */
function devFetch(path: string, overrides: Record<string, unknown> = {}): Promise<Response> {
  return worker.fetch(new Request(`http://edge.test${path}`), { ...env, DEV_TOKENS: "on", ...overrides }, createExecutionContext());
}

describe("GET /dev/token", () => {
  it("is off with the wrangler.toml config: 404 and no token", async () => {
    expect(env.DEV_TOKENS).toBeUndefined();
    const res = await exports.default.fetch("http://edge.test/dev/token?user=alice");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", reason: "dev tokens are off" });
  });

  it("with DEV_TOKENS=on, issues a token the Worker accepts as that user", async () => {
    const user = uniqueUser("dev");
    const res = await devFetch(`/dev/token?user=${encodeURIComponent(user)}`);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };

    const ws = await upgrade(`?Authentication=${token}`);
    expect(ws.status).toBe(101);
    const socket = ws.webSocket!;
    socket.accept();
    const hello = await new Promise<{ content: string; message: { user: string } }>((resolve) =>
      socket.addEventListener("message", (e) => resolve(JSON.parse(e.data as string))),
    );
    expect(hello).toMatchObject({ content: "CONNECTION_ID", message: { user } });
    socket.close(1000);
  });

  it("with DEV_TOKENS=on, refuses a missing or over-long user", async () => {
    for (const query of ["", "?user=", `?user=${"x".repeat(129)}`]) {
      const res = await devFetch(`/dev/token${query}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "bad_user" });
    }
  });

  it("stays off without AUTH_SECRET, even with DEV_TOKENS=on", async () => {
    const res = await devFetch("/dev/token?user=alice", { AUTH_SECRET: undefined });
    expect(res.status).toBe(404);
  });
});
