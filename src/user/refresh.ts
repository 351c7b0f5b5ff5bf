/**
 * TOKEN_REFRESH: a socket extends its life with a new token for the same
 * user, verified exactly as at connect. On success the new expiry rides in
 * the socket's attachment; on failure the socket keeps its old one.
 */
import { verifyToken } from "../auth/token.ts";
import { errorFrame, tokenRefreshed } from "../protocol/build.ts";
import type { TokenRefreshRequest } from "../protocol/frames.ts";
import type { User } from "./context.ts";

export async function refresh(u: User, ws: WebSocket, req: TokenRefreshRequest): Promise<void> {
  const auth = await verifyToken(req.token, u.config);
  const now = Date.now();
  const refused = (reason: string) => u.sockets.hand(ws, errorFrame("BAD_TOKEN", reason, req.id, now), now);
  if (!auth.ok) {
    refused(auth.status === 503 ? `${auth.reason} (the socket keeps its current token)` : `${auth.error}: ${auth.reason}`);
    return;
  }
  const attachment = u.sockets.attachment(ws);
  if (auth.identity !== attachment.user) {
    refused("the new token is for another user; a socket keeps its identity");
    return;
  }
  // Checked again after the await: the socket may have expired while the token was verified.
  if (u.sockets.expired(ws, now)) return;
  u.sockets.setAttachment(ws, { ...attachment, expiresAt: auth.expiresAt });
  u.sockets.hand(ws, tokenRefreshed(req.id, auth.expiresAt, now), now);
}
