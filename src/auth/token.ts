/**
 * Token verification: who is connecting. Uses `jose` so that no
 * security-sensitive parsing is hand-rolled here.
 *
 * Two kinds of token are accepted, each pinned to its own algorithms:
 * HS256 signed with AUTH_SECRET (or AUTH_SECRET_PREVIOUS during a rotation),
 * and RS256/ES256 signed by an identity provider whose public keys are
 * published at AUTH_JWKS_URL. The header's `alg` only picks which of the two
 * is tried; `jose` then refuses any other `alg` for that key.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, type JWTPayload, type JWTVerifyOptions, jwtVerify } from "jose";
import { type AuthConfig, type Config, MAX_ID_LENGTH } from "../config.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { GROUP_PREFIX, isGroupId, SYSTEM } from "../protocol/frames.ts";

export type AuthErrorCode = "missing_token" | "invalid_token" | "expired_token" | "missing_identity";

export type AuthResult =
  /** `expiresAt` (ms) is when this server stops accepting the token: its `exp` plus the clock leeway. */
  | { ok: true; identity: string; expiresAt: number | null }
  | { ok: false; status: 401; error: AuthErrorCode; reason: string }
  /** The client's token may be fine: the identity provider's keys could not be had, so retry later. */
  | { ok: false; status: 503; error: "auth_unavailable"; reason: string };

const HMAC_ALGORITHMS = ["HS256"];
/** What standard identity providers sign with; RS256 only with RSA keys and ES256 only with P-256 keys. */
const JWKS_ALGORITHMS = ["RS256", "ES256"];

/**
 * jose's defaults, written out because they are the policy: keys are reused
 * for 10 minutes; a token with an unknown `kid` (an IdP rotation) refetches,
 * but at most once per 30 s, so a flood of made-up `kid`s cannot turn this
 * Worker into a load generator against the IdP; a slow IdP fails the
 * connection after 5 s instead of holding it open.
 */
const JWKS_OPTIONS = { cacheMaxAge: 600_000, cooldownDuration: 30_000, timeoutDuration: 5_000 };

/** Browsers can only pass the token in the query string; other clients use the Authorization header. */
export function tokenFrom(request: Request, url: URL): string | null {
  const fromQuery = url.searchParams.get("Authentication");
  if (fromQuery) return fromQuery;
  const header = request.headers.get("Authorization");
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1] ?? null;
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** HMAC keys are imported once per isolate, not once per connection. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** One key set per URL per isolate: its cache and cooldown only work if it outlives the request. */
function remoteKeySet(url: URL): ReturnType<typeof createRemoteJWKSet> {
  let keySet = remoteKeySets.get(url.href);
  if (!keySet) {
    keySet = createRemoteJWKSet(url, JWKS_OPTIONS);
    remoteKeySets.set(url.href, keySet);
  }
  return keySet;
}

/** Thrown when the IdP's key set could not be fetched or read: not the client's fault. */
class KeysUnavailable extends Error {}

async function verifyHmac(token: string, secrets: readonly string[], options: JWTVerifyOptions): Promise<JWTPayload> {
  let mismatch: unknown;
  for (const secret of secrets) {
    try {
      return (await jwtVerify(token, await hmacKey(secret), { ...options, algorithms: HMAC_ALGORITHMS })).payload;
    } catch (err) {
      // Only a signature mismatch means "maybe signed with the previous secret"; anything else is final.
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw err;
      mismatch = err;
    }
  }
  throw mismatch;
}

async function verifyJwks(token: string, url: URL, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, remoteKeySet(url), { ...options, algorithms: JWKS_ALGORITHMS })).payload;
  } catch (err) {
    // jose reports a failed fetch as a plain JOSEError (non-200, unparsable body),
    // JWKSTimeout, JWKSInvalid (not a public key set) or the runtime's own error.
    const unavailable =
      err instanceof errors.JWKSTimeout ||
      err instanceof errors.JWKSInvalid ||
      !(err instanceof errors.JOSEError) ||
      err.code === errors.JOSEError.code;
    if (unavailable) {
      logEvent("warn", "jwks_unavailable", { url: url.href, error: errorMessage(err) });
      throw new KeysUnavailable(errorMessage(err));
    }
    throw err;
  }
}

async function verifiedPayload(token: string, auth: AuthConfig): Promise<JWTPayload> {
  const options: JWTVerifyOptions = { issuer: auth.issuer, audience: auth.audience, clockTolerance: auth.clockToleranceSeconds };
  const { alg } = decodeProtectedHeader(token);
  if (alg !== undefined && HMAC_ALGORITHMS.includes(alg) && auth.secrets.length > 0) return verifyHmac(token, auth.secrets, options);
  if (alg !== undefined && JWKS_ALGORITHMS.includes(alg) && auth.jwksUrl) return verifyJwks(token, auth.jwksUrl, options);
  const accepted = [...(auth.secrets.length > 0 ? HMAC_ALGORITHMS : []), ...(auth.jwksUrl ? JWKS_ALGORITHMS : [])];
  throw new errors.JOSEAlgNotAllowed(`alg ${JSON.stringify(alg)} is not accepted here; accepted: ${accepted.join(", ")}`);
}

/**
 * Real IdPs and `jsonwebtoken` users often put a number in the identity claim
 * (`userId: 42`): it becomes "42". Past 2^53 JSON parsing has already changed
 * the digits, so two users could collide: such numbers are refused.
 */
function identityFrom(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return null;
}

export async function verifyToken(token: string | null, config: Pick<Config, "auth" | "identityClaim">): Promise<AuthResult> {
  if (!token) {
    return {
      ok: false,
      status: 401,
      error: "missing_token",
      reason: "pass the token as ?Authentication=<JWT> or Authorization: Bearer <JWT>",
    };
  }
  let payload: JWTPayload;
  try {
    payload = await verifiedPayload(token, config.auth);
  } catch (err) {
    if (err instanceof KeysUnavailable) {
      return {
        ok: false,
        status: 503,
        error: "auth_unavailable",
        reason: `the identity provider's keys could not be fetched (${err.message}); try again`,
      };
    }
    if (err instanceof errors.JWTExpired) return { ok: false, status: 401, error: "expired_token", reason: "token has expired" };
    const reason = err instanceof errors.JOSEError ? err.message : "token could not be verified";
    return { ok: false, status: 401, error: "invalid_token", reason };
  }
  const identity = identityFrom(payload[config.identityClaim]);
  if (identity === null || identity.length === 0 || identity.length > MAX_ID_LENGTH) {
    return {
      ok: false,
      status: 401,
      error: "missing_identity",
      reason: `claim '${config.identityClaim}' must be a non-empty string of at most ${MAX_ID_LENGTH} characters, or a safe integer`,
    };
  }
  if (isGroupId(identity) || identity === SYSTEM) {
    return {
      ok: false,
      status: 401,
      error: "missing_identity",
      reason: `'${identity.slice(0, 32)}' is reserved: identities starting with '${GROUP_PREFIX}' name groups and '${SYSTEM}' is the server`,
    };
  }
  const expiresAt = typeof payload.exp === "number" ? (payload.exp + config.auth.clockToleranceSeconds) * 1000 : null;
  return { ok: true, identity, expiresAt };
}
