/**
 * The Worker: routes, authenticates, and answers every refusal over HTTP
 * before any upgrade. An accepted upgrade goes to the user's own object, and
 * its frames are relayed (relay.ts says why).
 */
import { signToken } from "./auth/devtoken.ts";
import { tokenFrom, verifyToken } from "./auth/token.ts";
import { type Env, MAX_ID_LENGTH, readConfig } from "./config.ts";
import { httpError } from "./http/errors.ts";
import { errorMessage, logEvent } from "./logging.ts";
import { relay } from "./relay.ts";
import { EXPIRES_HEADER, USER_HEADER } from "./user/connect.ts";

export { UserObject } from "./user/object.ts";

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (url.pathname === "/health") return Response.json({ status: "ok" });
      if (url.pathname === "/dev/token") return await devToken(url, env);
      if (url.pathname !== "/ws") return httpError(404, "not_found", `no route ${url.pathname}; connect to /ws`);
      return await connect(request, url, env);
    } catch (err) {
      // A bad var (readConfig names it) or a platform failure: still one error shape, never a bare 500.
      logEvent("error", "request_failed", { path: url.pathname, error: errorMessage(err) });
      return httpError(500, "internal", errorMessage(err));
    }
  },
} satisfies ExportedHandler<Env>;

async function connect(request: Request, url: URL, env: Env): Promise<Response> {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    return httpError(426, "upgrade_required", "connect with a WebSocket client (Upgrade: websocket)");
  }
  // Before any token work: a flood of upgrades costs the attacker, not the server.
  const address = request.headers.get("CF-Connecting-IP") ?? "unknown";
  if (!(await env.CONNECT_LIMITER.limit({ key: address })).success) {
    return httpError(429, "too_many_connections", "too many connection attempts from this address; retry in a minute");
  }
  const config = readConfig(env);
  const origin = request.headers.get("Origin");
  if (origin !== null && config.allowedOrigins && !config.allowedOrigins.has(origin)) {
    return httpError(403, "forbidden_origin", `origin ${origin} is not in ALLOWED_ORIGINS`);
  }
  if (config.auth.secrets.length === 0 && config.auth.jwksUrl === null) {
    // Fail closed: without a secret or an IdP's keys no token can be checked, so nobody gets in.
    return httpError(503, "server_misconfigured", "AUTH_SECRET is not set: run `wrangler secret put AUTH_SECRET` (or set AUTH_JWKS_URL)");
  }
  const since = url.searchParams.get("since");
  if (since !== null && !/^\d{1,15}$/.test(since)) {
    return httpError(400, "bad_since", "since must be a non-negative integer sequence number");
  }
  const auth = await verifyToken(tokenFrom(request, url), config);
  if (!auth.ok) return httpError(auth.status, auth.error, auth.reason);

  // The object trusts these headers: only this Worker can reach it, and a
  // client's own copies are overwritten. The token itself goes no further.
  const forwarded = new URL(url);
  forwarded.searchParams.delete("Authentication");
  const headers = new Headers(request.headers);
  headers.delete("Authorization");
  headers.set(USER_HEADER, auth.identity);
  if (auth.expiresAt === null) headers.delete(EXPIRES_HEADER);
  else headers.set(EXPIRES_HEADER, String(auth.expiresAt));
  return relay(await env.USERS.getByName(auth.identity).fetch(new Request(forwarded, { headers })));
}

/** Development only: off unless DEV_TOKENS is "on" (as under `npm start`); in production the app issues tokens. */
async function devToken(url: URL, env: Env): Promise<Response> {
  if (env.DEV_TOKENS !== "on" || !env.AUTH_SECRET) return httpError(404, "not_found", "dev tokens are off");
  const user = url.searchParams.get("user") ?? "";
  if (user.length === 0 || user.length > MAX_ID_LENGTH) {
    return httpError(400, "bad_user", `user must be 1 to ${MAX_ID_LENGTH} characters`);
  }
  return Response.json({ token: await signToken(env.AUTH_SECRET, user, readConfig(env).identityClaim) });
}
