/**
 * Presence (PROTOCOL.md, Ephemeral events). A socket subscribes to up to 100
 * users; for each one it shares a conversation with (a direct message either
 * way, or a common group), the watched user's object registers this user as
 * a watcher and answers its status now; the others are left out without a
 * word. The watched object tells its watchers only on its first-socket-open
 * and last-socket-close transitions, so five tabs closing one by one are one
 * `offline`. A watcher whose sockets no longer watch says so, and is dropped;
 * one that vanished expires. `lastSeen` is one write per offline transition.
 * Blocks cut presence both ways (PROTOCOL.md, Blocking): a user this user
 * blocks is neither watched nor told, as if the two shared nothing.
 */
import { errorMessage, logEvent } from "../logging.ts";
import { isoSecond, presenceText } from "../protocol/build.ts";
import type { PresenceStatus, PresenceSubscribeRequest } from "../protocol/frames.ts";
import type { User } from "./context.ts";
import { readMeta, writeMeta } from "./meta.ts";

/** A registration lasts this long unless renewed by another subscribe. */
const WATCH_TTL_MS = 24 * 3_600_000;

/** Online while the user has an open socket; offline since the last one closed. */
export function status(u: User): PresenceStatus {
  if (openSockets(u) > 0) return { status: "online", lastSeen: null };
  const lastSeen = readMeta(u, "lastSeen");
  return { status: "offline", lastSeen: lastSeen === null ? null : isoSecond(lastSeen) };
}

/** A direct conversation with `other`, in either direction, is in this user's index. */
export function talksWith(u: User, other: string): boolean {
  return u.db.exists && u.db.sql.exec("SELECT 1 FROM conversations WHERE id = ? AND kind = 'direct'", other).toArray().length > 0;
}

function groups(u: User): string[] {
  if (!u.db.exists) return [];
  return u.db.sql
    .exec<{ group_id: string }>("SELECT group_id FROM memberships")
    .toArray()
    .map((r) => r.group_id);
}

/** The socket's subscription replaces its last one; the statuses of the users it may watch come back as frames. */
export async function subscribe(u: User, ws: WebSocket, req: PresenceSubscribeRequest): Promise<void> {
  const { connectionId } = u.sockets.attachment(ws);
  const mine = groups(u);
  const users = req.users.filter((user) => user !== u.me && !u.blocks.has(user));
  const answers = await Promise.all(
    users.map((user) =>
      u.env.USERS.getByName(user)
        .watch(u.me, mine, talksWith(u, user))
        .catch((err: unknown) => {
          logEvent("info", "presence_unavailable", { user: u.me, of: user, error: errorMessage(err) });
          return null;
        }),
    ),
  );
  const now = Date.now();
  const sql = u.db.write;
  sql.exec("DELETE FROM watching WHERE connection_id = ?", connectionId);
  users.forEach((user, i) => {
    const answer = answers[i];
    if (!answer) return;
    sql.exec("INSERT INTO watching (connection_id, user) VALUES (?, ?)", connectionId, user);
    u.sockets.hand(ws, presenceText(user, u.me, answer, now), now);
  });
}

/** RPC from a watcher: registers it if the two share a conversation, and answers this user's status; null if not. */
export function watch(u: User, watcher: string, watcherGroups: string[], watcherTalksWithMe: boolean, now: number): PresenceStatus | null {
  if (u.blocks.has(watcher)) return null;
  const mine = new Set(groups(u));
  const shared = watcherTalksWithMe || talksWith(u, watcher) || watcherGroups.some((g) => mine.has(g));
  if (!shared) return null;
  u.db.write.exec(
    "INSERT INTO watchers (watcher, expires) VALUES (?, ?) ON CONFLICT (watcher) DO UPDATE SET expires = excluded.expires",
    watcher,
    now + WATCH_TTL_MS,
  );
  return status(u);
}

/** RPC from a watched user: hands its new status to the sockets watching it; false if none does any more. */
export function changed(u: User, of: string, next: PresenceStatus, now: number): boolean {
  if (!u.db.exists || u.blocks.has(of)) return false;
  const watching = new Set(
    u.db.sql
      .exec<{ connection_id: string }>("SELECT connection_id FROM watching WHERE user = ?", of)
      .toArray()
      .map((r) => r.connection_id),
  );
  const sockets = u.sockets.live(now).filter((ws) => watching.has(u.sockets.attachment(ws).connectionId));
  for (const ws of sockets) u.sockets.hand(ws, presenceText(of, u.me, next, now), now);
  return sockets.length > 0;
}

/** This user came online (its first socket) or went offline (its last): its watchers hear it. */
export function announce(u: User, next: PresenceStatus, now: number): void {
  if (!u.db.exists) return;
  // A read, and a write only when something expired: a reconnect with no watchers commits nothing.
  const rows = u.db.sql.exec<{ watcher: string; expires: number }>("SELECT watcher, expires FROM watchers").toArray();
  if (rows.some((r) => r.expires < now)) u.db.sql.exec("DELETE FROM watchers WHERE expires < ?", now);
  // A watcher registered before this user blocked it hears nothing more.
  for (const { watcher } of rows.filter((r) => r.expires >= now && !u.blocks.has(r.watcher))) {
    u.ctx.waitUntil(
      u.env.USERS.getByName(watcher)
        .presenceChanged(u.me, next)
        .then((still) => {
          if (!still) u.db.sql.exec("DELETE FROM watchers WHERE watcher = ?", watcher);
        })
        .catch((err: unknown) => logEvent("info", "presence_dropped", { user: u.me, watcher, error: errorMessage(err) })),
    );
  }
}

export function openSockets(u: User, except?: WebSocket): number {
  return u.sockets.all().filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN).length;
}

/** The socket closed: it watches nobody any more. */
export function forgetSocket(u: User, connectionId: string): void {
  if (u.db.exists) u.db.sql.exec("DELETE FROM watching WHERE connection_id = ?", connectionId);
}

/**
 * No socket is open any more: remember when, for `lastSeen`, and return the
 * status to announce. Several sockets can close together (the client sees
 * its close before this object does), and each finds none left: only the
 * first since the closing socket connected is the transition, the others
 * return null. A user with no tables has no conversations, so nobody can
 * watch them: nothing to remember, nobody to tell.
 */
export function wentOffline(u: User, connectedAt: number, now: number): PresenceStatus | null {
  if (!u.db.exists) return null;
  const last = readMeta(u, "lastSeen");
  if (last !== null && last >= connectedAt) return null;
  writeMeta(u, "lastSeen", now);
  return { status: "offline", lastSeen: isoSecond(now) };
}
