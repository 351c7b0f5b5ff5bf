/**
 * Development-only tokens, so anyone can try the server without an auth
 * service. `npm start` turns them on; a deployed Worker never has them unless
 * DEV_TOKENS is explicitly set to "on".
 */
import { SignJWT } from "jose";

/** The secret `npm start` runs with. Public on purpose: it must never be deployed. */
export const DEV_AUTH_SECRET = "insecure-dev-secret-do-not-deploy";

/** The server API key `npm start` runs with, for `npm run admin`. Public on purpose: it must never be deployed. */
export const DEV_API_KEY = "insecure-dev-api-key-do-not-deploy";

export function signToken(secret: string, user: string, identityClaim = "userId"): Promise<string> {
  return new SignJWT({ [identityClaim]: user })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime("10h")
    .sign(new TextEncoder().encode(secret));
}
