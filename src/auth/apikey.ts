/**
 * The server API's credential (PROTOCOL.md, Server API): `Authorization:
 * Bearer <API_KEY>`, or API_KEY_PREVIOUS during a rotation. Compared in
 * constant time over SHA-256 digests (equal lengths, whatever was sent),
 * so the comparison's time says nothing about the key. A user token is not
 * a key, and the key is not a token: the two never meet.
 */
import { httpError } from "../http/errors.ts";

export interface ApiKeys {
  API_KEY?: string;
  API_KEY_PREVIOUS?: string;
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(text));
}

/** Null if the request carries a current key; otherwise the refusal to answer with. */
export async function checkApiKey(request: Request, env: ApiKeys): Promise<Response | null> {
  const keys = [env.API_KEY, env.API_KEY_PREVIOUS].filter((k): k is string => Boolean(k));
  if (!env.API_KEY || keys.length === 0) {
    return httpError(503, "api_disabled", "the server API is off: set the API_KEY secret (`wrangler secret put API_KEY`)");
  }
  // The key is for the app's backend; a browser (which always sends Origin on such requests) must never hold it.
  if (request.headers.get("Origin") !== null) {
    return httpError(403, "browser_forbidden", "the server API is for your backend; never put the API key in a web page");
  }
  const presented = request.headers.get("Authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (presented !== undefined) {
    const sent = await digest(presented);
    let match = false;
    // Every key is compared, so the time taken does not say which one matched.
    for (const key of keys) if (crypto.subtle.timingSafeEqual(sent, await digest(key))) match = true;
    if (match) return null;
  }
  return httpError(401, "invalid_api_key", "pass the server API key as Authorization: Bearer <API_KEY>");
}
