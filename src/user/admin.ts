/**
 * What the server API does to one user (PROTOCOL.md, Server API): a notice
 * from the system, a message sent as the user, closing the user's sockets
 * (and refusing new ones until a time), and erasing the user.
 */
import type { Envelope } from "../envelope.ts";
import { isoSecond, noticeText } from "../protocol/build.ts";
import { SYSTEM } from "../protocol/frames.ts";
import type { User } from "./context.ts";
import { deliver } from "./deliver.ts";
import { readMeta, writeMeta } from "./meta.ts";
import { CLOSE_SERVER_DISCONNECT } from "./sockets.ts";

/** A notice from the system, logged and queued like a message; the same key twice is one notice. */
export function notice(u: User, key: string, rawMessage: string, now: number): { id: string; time: string } {
  const known = u.db.exists
    ? u.db.sql.exec<{ id: string; created: number }>("SELECT server_id AS id, created FROM notice_keys WHERE key = ?", key).toArray()[0]
    : undefined;
  if (known) return { id: known.id, time: isoSecond(known.created) };
  const id = crypto.randomUUID();
  u.db.write.exec("INSERT INTO notice_keys (key, server_id, created) VALUES (?, ?, ?)", key, id, now);
  const envelope: Envelope = {
    id,
    sender: SYSTEM,
    recipient: u.me,
    type: "NOTICE",
    frame: noticeText(id, u.me, isoSecond(now), rawMessage),
  };
  deliver(u, [envelope], now);
  return { id, time: isoSecond(now) };
}

/** Closes every socket of the user with 4003; with `until`, new connections are refused (403) until then. */
export function disconnect(u: User, until: number | null, reason: string): number {
  if (until !== null) writeMeta(u, "suspendedUntil", until);
  const sockets = u.sockets.all();
  for (const ws of sockets) u.sockets.close(ws, CLOSE_SERVER_DISCONNECT, reason);
  return sockets.length;
}

/** When the user's suspension ends, if it has not yet. */
export function suspendedUntil(u: User, now: number): number | null {
  const until = readMeta(u, "suspendedUntil");
  return until !== null && until > now ? until : null;
}

/** The groups the user is in, for erasure to leave them first. */
export function groupsOf(u: User): string[] {
  if (!u.db.exists) return [];
  return u.db.sql
    .exec<{ group_id: string }>("SELECT group_id FROM memberships")
    .toArray()
    .map((r) => r.group_id);
}

/** Everything of the user's object goes: sockets (4003), log, conversations, memberships, alarm. */
export async function erase(u: User): Promise<void> {
  for (const ws of u.sockets.all()) u.sockets.close(ws, CLOSE_SERVER_DISCONNECT, "this account was erased");
  await u.ctx.storage.deleteAlarm();
  await u.ctx.storage.deleteAll();
  u.db.forget();
  u.blocks.forget();
  u.outbox.forget();
  u.alarm.fired();
}
