/**
 * Who is asking: the user token of `/ws` and `/v1` (PROTOCOL.md: the same
 * tokens, `Authorization: Bearer` or `?Authentication=`). Refusals are the
 * JSON error shape with the upgrade's statuses and codes.
 */
import { createMiddleware } from "hono/factory";
import { tokenFrom, verifyToken } from "../auth/token.ts";
import { readConfig } from "../config.ts";
import { httpError } from "./errors.ts";

export interface Authenticated {
  user: string;
  /** ms; null for a token without `exp`. */
  expiresAt: number | null;
}

/** The request's user, or the refusal to answer with. */
export async function authenticate(request: Request, url: URL, env: Env): Promise<Authenticated | Response> {
  const config = readConfig(env);
  if (config.auth.secrets.length === 0 && config.auth.jwksUrl === null) {
    // Fail closed: without a secret or an IdP's keys no token can be checked, so nobody gets in.
    return httpError(503, "server_misconfigured", "AUTH_SECRET is not set: run `wrangler secret put AUTH_SECRET` (or set AUTH_JWKS_URL)");
  }
  const auth = await verifyToken(tokenFrom(request, url), config);
  if (!auth.ok) return httpError(auth.status, auth.error, auth.reason);
  return { user: auth.identity, expiresAt: auth.expiresAt };
}

export type UserVariables = { user: string };

/** Hono middleware for the user routes: sets `user`, or answers the refusal. */
export const userAuth = createMiddleware<{ Bindings: Env; Variables: UserVariables }>(async (c, next) => {
  const auth = await authenticate(c.req.raw, new URL(c.req.url), c.env);
  if (auth instanceof Response) return auth;
  c.set("user", auth.user);
  await next();
});
