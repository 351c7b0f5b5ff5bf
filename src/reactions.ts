/**
 * Who reacted to a message with what: a `reactions` table of (message, user,
 * key), kept alike by each user's object (to count and to know the user's
 * own) and by a group's object (which decides reactions in the group's
 * order). PROTOCOL.md, Replies, edits, deletes and reactions.
 */
import type { Reaction } from "./protocol/frames.ts";
import { ProtocolError } from "./protocol/parse.ts";

/** At most this many keys per user per message; taking one back frees its place. */
export const MAX_REACTIONS = 20;

/**
 * Whether the reaction changes anything (false: already on, or already off);
 * a key beyond the limit is refused with BAD_MESSAGE.
 */
export function reactionChanges(sql: SqlStorage, message: string, user: string, r: Reaction): boolean {
  const has = sql.exec("SELECT 1 FROM reactions WHERE message = ? AND user = ? AND key = ?", message, user, r.key).toArray().length > 0;
  if (has === r.on) return false;
  if (r.on) {
    const n = sql.exec<{ n: number }>("SELECT count(*) AS n FROM reactions WHERE message = ? AND user = ?", message, user).one().n;
    if (n >= MAX_REACTIONS) throw new ProtocolError("BAD_MESSAGE", `at most ${MAX_REACTIONS} reactions per person per message`);
  }
  return true;
}

/** Records a reaction (idempotent: a delivery may be retried). */
export function setReaction(sql: SqlStorage, message: string, user: string, r: Reaction): void {
  if (r.on) sql.exec("INSERT INTO reactions (message, user, key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", message, user, r.key);
  else sql.exec("DELETE FROM reactions WHERE message = ? AND user = ? AND key = ?", message, user, r.key);
}
