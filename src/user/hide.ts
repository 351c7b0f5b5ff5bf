/**
 * Delete for me (PROTOCOL.md, Replies, edits, deletes and reactions):
 * `DELETE /v1/conversations/<id>/messages/<server id>` takes a message out
 * of the user's own history, replay, unread and the list's `last`, on every
 * device (a SETTINGS_CHANGED frame tells them). The log row stays, typed
 * HIDDEN and with its payload erased: it still holds the client id of the
 * user's own send, so a late resend of that id is answered, not sent again.
 * The message's edits, delete and reactions go out of replay with it, and
 * those that arrive later are neither logged nor handed to a socket.
 */
import { type Envelope, isChange } from "../envelope.ts";
import { ERASED_FRAME_SQL } from "../protocol/build.ts";
import type { User } from "./context.ts";
import { settingsChanged } from "./settings.ts";
import { deletedAt } from "./state.ts";

/** What history shows and a user may delete for themself: messages and the server's notices. */
const HIDEABLE: ReadonlySet<string> = new Set(["USER_MSG", "NOTICE", "HIDDEN"]);

/** False if the conversation has no such message (404); true once it is hidden (again: nothing changes, no frame). */
export function hide(u: User, conversation: string, id: string, now: number): boolean {
  const target = u.log.lookup(id);
  if (!target || target.conversation !== conversation || !HIDEABLE.has(target.type)) return false;
  if (target.type === "HIDDEN") return true;
  const unread = target.type === "USER_MSG" && target.sender !== u.me && deletedAt(u, id) === null;
  u.db.sql.exec(
    `UPDATE log SET type = 'HIDDEN', queued = 0, frame = ${ERASED_FRAME_SQL}
     WHERE id = ?1 OR (ref = ?1 AND type IN ('MESSAGE_EDIT', 'MESSAGE_DELETE', 'REACTION'))`,
    id,
  );
  // Its latest payload and reactions go too: a later delete for everyone finds nothing here to erase.
  u.db.sql.exec("DELETE FROM message_state WHERE id = ?", id);
  u.db.sql.exec("DELETE FROM reactions WHERE message = ?", id);
  if (unread) u.conversations.uncount(conversation, target.seq);
  u.conversations.hidden(conversation, target.seq);
  settingsChanged(u, { hidden: { conversation, message: id } }, now);
  return true;
}

/** An edit, delete or reaction of a message the user deleted for themself: it stays out of their log and sockets. */
export function namesHidden(u: User, e: Envelope): boolean {
  return isChange(e.type) && e.ref !== undefined && u.log.lookup(e.ref)?.type === "HIDDEN";
}
