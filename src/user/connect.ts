/**
 * An upgrade the Worker authenticated: accept the socket (hibernatable), cap
 * the user's sockets, then send CONNECTION_ID and the backlog (the replay
 * after `since`, or the offline queue) before any live frame.
 */
import { connectionLimits } from "../config.ts";
import { httpError } from "../http/errors.ts";
import { connectionIdFrame, isoSecond, withSeq } from "../protocol/build.ts";
import { suspendedUntil } from "./admin.ts";
import type { User } from "./context.ts";
import { announce, openSockets } from "./presence.ts";
import { type Attachment, CLOSE_TOO_MANY_SOCKETS } from "./sockets.ts";

/** Headers the Worker sets on the forwarded upgrade; the object is reachable only through the Worker. */
export const USER_HEADER = "X-LunarLoom-User";
export const EXPIRES_HEADER = "X-LunarLoom-Expires";

export function connect(u: User, request: Request): Response {
  const user = request.headers.get(USER_HEADER);
  if (user !== u.me) return httpError(400, "bad_request", "not forwarded by the Worker");
  const now = Date.now();
  const suspended = suspendedUntil(u, now);
  if (suspended !== null) return httpError(403, "suspended", `this account is suspended until ${isoSecond(suspended)}`);
  const expires = request.headers.get(EXPIRES_HEADER);
  const since = new URL(request.url).searchParams.get("since");

  const attachment: Attachment = { user, connectionId: crypto.randomUUID(), expiresAt: expires ? Number(expires) : null, connectedAt: now };
  const { 0: client, 1: server } = new WebSocketPair();
  u.sockets.accept(server, attachment);
  closeOldestBeyond(u, u.config.maxSocketsPerUser, server);
  // The first socket: the user is online.
  if (openSockets(u) === 1) announce(u, { status: "online", lastSeen: null }, now);

  // Synchronous from here to the return: no delivery can interleave, so the
  // replay has no gap and no duplicate with the live frames that follow it.
  server.send(connectionIdFrame(user, attachment.connectionId, u.log.latestSeq(), connectionLimits(u.config), now));
  const backlog = since === null ? u.log.takeQueued() : u.log.replay(Number(since));
  for (const { seq, frame } of backlog) server.send(withSeq(frame, seq));
  return new Response(null, { status: 101, webSocket: client });
}

/** A user's devices are capped; the newest socket wins, as a user opening a new tab expects. */
function closeOldestBeyond(u: User, max: number, newest: WebSocket): void {
  const sockets = u.sockets.all();
  if (sockets.length <= max) return;
  const byAge = sockets
    .filter((ws) => ws !== newest)
    .map((ws) => ({ ws, at: u.sockets.attachment(ws).connectedAt }))
    .sort((a, b) => a.at - b.at);
  for (const { ws } of byAge.slice(0, sockets.length - max)) {
    u.sockets.close(ws, CLOSE_TOO_MANY_SOCKETS, `more than ${max} sockets for this user; the oldest was closed`);
  }
}
