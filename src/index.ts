/**
 * The Worker: the WebSocket upgrade is forwarded to the user's own object
 * after every refusal has been answered over HTTP, and the object's 101 is
 * returned as it is, so the client's socket ends in the object (accepted
 * there with the hibernation API); everything else is the HTTP app
 * (src/http/app.ts): /v1, /health, the dev token endpoint.
 */
import { readConfig } from "./config.ts";
import { app } from "./http/app.ts";
import { authenticate } from "./http/auth.ts";
import { httpError } from "./http/errors.ts";
import { errorMessage, logEvent } from "./logging.ts";
import { EXPIRES_HEADER, USER_HEADER } from "./user/connect.ts";
import { consume } from "./webhooks/consumer.ts";
import type { QueuedEvent } from "./webhooks/events.ts";

export { GroupObject } from "./group/object.ts";
export { ReportsObject } from "./moderation/object.ts";
export { GroupShard } from "./shard/object.ts";
export { UserObject } from "./user/object.ts";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/ws") return app.fetch(request, env, ctx);
    try {
      return await connect(request, url, env);
    } catch (err) {
      // A bad var (readConfig names it) or a platform failure: still one error shape, never a bare 500.
      logEvent("error", "request_failed", { path: url.pathname, error: errorMessage(err) });
      return httpError(500, "internal", errorMessage(err));
    }
  },
  /** Webhook events, and the dead letters of those that never got through. */
  async queue(batch, env): Promise<void> {
    await consume(batch as MessageBatch<QueuedEvent>, env);
  },
} satisfies ExportedHandler<Env, QueuedEvent>;

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
  const since = url.searchParams.get("since");
  if (since !== null && !/^\d{1,15}$/.test(since)) {
    return httpError(400, "bad_since", "since must be a non-negative integer sequence number");
  }
  const auth = await authenticate(request, url, env);
  if (auth instanceof Response) return auth;

  // The object trusts these headers: only this Worker can reach it, and a
  // client's own copies are overwritten. The token itself goes no further.
  const forwarded = new URL(url);
  forwarded.searchParams.delete("Authentication");
  const headers = new Headers(request.headers);
  headers.delete("Authorization");
  // No permessage-deflate: chat frames are small, and a deflate context per
  // socket costs CPU on every connect and memory for as long as it is open.
  headers.delete("Sec-WebSocket-Extensions");
  headers.set(USER_HEADER, auth.user);
  if (auth.expiresAt === null) headers.delete(EXPIRES_HEADER);
  else headers.set(EXPIRES_HEADER, String(auth.expiresAt));
  return env.USERS.getByName(auth.user).fetch(new Request(forwarded, { headers }));
}
