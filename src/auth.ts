/**
 * Token verification: who is connecting. Uses `jose` so that no
 * security-sensitive parsing is hand-rolled here.
 */
import { errors, jwtVerify } from "jose";
import { MAX_ID_LENGTH } from "./config.ts";

export type AuthErrorCode = "missing_token" | "invalid_token" | "expired_token" | "missing_identity";

export type AuthResult =
  | { ok: true; identity: string; expiresAt: number | null }
  | { ok: false; error: AuthErrorCode; reason: string };

/** Browsers can only pass the token in the query string; other clients use the Authorization header. */
export function tokenFrom(request: Request, url: URL): string | null {
  const fromQuery = url.searchParams.get("Authentication");
  if (fromQuery) return fromQuery;
  const header = request.headers.get("Authorization");
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1] ?? null;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** HMAC keys are imported once per isolate, not once per connection. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    keys.set(secret, key);
  }
  return key;
}

export async function verifyToken(token: string | null, secret: string, identityClaim: string): Promise<AuthResult> {
  if (!token) return { ok: false, error: "missing_token", reason: "pass the token as ?Authentication=<JWT> or Authorization: Bearer <JWT>" };
  let payload;
  try {
    // `algorithms` pins HS256: `none`, RS/HS confusion and anything else is refused.
    ({ payload } = await jwtVerify(token, await hmacKey(secret), { algorithms: ["HS256"] }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, error: "expired_token", reason: "token has expired" };
    const reason = err instanceof errors.JOSEError ? err.message : "token could not be verified";
    return { ok: false, error: "invalid_token", reason };
  }
  const identity = payload[identityClaim];
  if (typeof identity !== "string" || identity.length === 0 || identity.length > MAX_ID_LENGTH) {
    return {
      ok: false,
      error: "missing_identity",
      reason: `claim '${identityClaim}' must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    };
  }
  return { ok: true, identity, expiresAt: typeof payload.exp === "number" ? payload.exp * 1000 : null };
}
