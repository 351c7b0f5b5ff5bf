/**
 * The current state of each message the user's object holds (PROTOCOL.md,
 * Replies, edits, deletes and reactions): its latest payload, when it was
 * last edited, when it was deleted for everyone, and its reactions (counts,
 * and whether the user's own is among them). Written in the commit of the
 * frame that changes it, so history and the list, which read it, never
 * disagree with the log.
 *
 * A message that never changed has no state row: its log row is how it is
 * now. Edits, deletes and reactions ride the message path (dedupe, log,
 * outbox, ack after commit); what is checked here is whether one may be
 * sent (before its ack), and what one does to the state once logged.
 */
import { type Envelope, isChange } from "../envelope.ts";
import { ERASED_FRAME_SQL, payloadOf, timeOf } from "../protocol/build.ts";
import { isGroupId, type Reaction, type SendFrame } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import { reactionChanges, setReaction } from "../reactions.ts";
import type { User } from "./context.ts";
import { conversationOf } from "./conversations.ts";
import { doomNamedFile } from "./files.ts";
import type { LogEntry } from "./log.ts";

/**
 * Checks a reply, edit, delete or reaction against the user's own log before
 * it is acked: the message it names is a message of the same conversation,
 * and the user may do this to it. Returns "noop" for a direct reaction that
 * changes nothing (acked, never delivered). In a group the group decides
 * again in its order; here only what cannot change later is refused (who
 * sent it, a delete), and a delete by a non-sender is left to the group,
 * which knows who its admins are.
 */
export function check(u: User, frame: SendFrame, now: number): "noop" | null {
  const link = "ref" in frame ? frame.ref : frame.replyTo;
  if (link === undefined) return null;
  const target = u.log.lookup(link);
  // A reply or change names a message (never an edit or a reaction) of this conversation.
  if (target?.type !== "USER_MSG" || target.conversation !== frame.to) {
    throw new ProtocolError("UNKNOWN_MESSAGE", `no message ${JSON.stringify(link)} in this conversation`);
  }
  if (deletedAt(u, link) !== null) throw new ProtocolError("FORBIDDEN", "that message was deleted");
  const group = isGroupId(frame.to);
  switch (frame.content) {
    case "MESSAGE_EDIT":
      if (target.sender !== u.me) throw new ProtocolError("FORBIDDEN", "only its sender can edit a message");
      if (now - target.created > u.config.editWindowMs) {
        throw new ProtocolError("FORBIDDEN", `a message can be edited for ${u.config.editWindowMs / 1000} seconds after it was sent`);
      }
      return null;
    case "MESSAGE_DELETE":
      if (target.sender !== u.me && !group) throw new ProtocolError("FORBIDDEN", "only its sender can delete a message for everyone");
      return null;
    case "REACTION":
      // In a group, reactions still on their way could make this one a change: the group decides.
      return group || reactionChanges(u.db.sql, link, u.me, frame.reaction) ? null : "noop";
    default:
      return null;
  }
}

/**
 * A logged edit, delete or reaction changes the state of the message it
 * names, in the same commit. One that names a message this log does not
 * hold as a message of that conversation (aged out, deleted for me) changes
 * nothing; nor does anything after a delete.
 */
export function apply(u: User, e: Envelope): void {
  if (!isChange(e.type) || e.ref === undefined) return;
  const target = u.log.lookup(e.ref);
  if (target?.type !== "USER_MSG" || target.conversation !== conversationOf(u.me, e) || deletedAt(u, e.ref) !== null) return;
  // In a direct conversation only the sender edits or deletes; a group checked its own rules (admins delete too).
  const bySender = target.sender === e.sender || isGroupId(e.recipient);
  switch (e.type) {
    case "MESSAGE_EDIT":
      if (!bySender) return;
      u.db.sql.exec(
        `INSERT INTO message_state (id, message, edited) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET message = excluded.message, edited = excluded.edited`,
        e.ref,
        payloadOf(e.frame) ?? "null",
        timeOf(e.frame),
      );
      return;
    case "MESSAGE_DELETE":
      if (bySender) erase(u, e.ref, target, timeOf(e.frame));
      return;
    case "REACTION":
      setReaction(u.db.sql, e.ref, e.sender, JSON.parse(payloadOf(e.frame)!) as Reaction);
      countReactions(u, e.ref);
      return;
  }
}

/** When a message was deleted for everyone, or null. */
export function deletedAt(u: User, id: string): string | null {
  if (!u.db.exists) return null;
  return u.db.sql.exec<{ deleted: string | null }>("SELECT deleted FROM message_state WHERE id = ?", id).toArray()[0]?.deleted ?? null;
}

/**
 * Deleted for everyone: the payloads of the message and of its edits are
 * erased wherever this object holds them (log rows, the outbox, the state
 * row), its reactions go, and it is no longer unread. The sender's own
 * upload that it named goes too (files.ts).
 */
function erase(u: User, id: string, target: LogEntry, time: string): void {
  const sql = u.db.sql;
  if (target.sender === u.me) doomNamedFile(u, id, target.conversation, Date.now());
  const erased = `SET frame = ${ERASED_FRAME_SQL} WHERE id = ?1 OR (ref = ?1 AND type = 'MESSAGE_EDIT')`;
  sql.exec(`UPDATE log ${erased}`, id);
  // Still owed to its recipient: the recipient gets the tombstone, then the delete.
  sql.exec(`UPDATE outbox ${erased}`, id);
  sql.exec(
    `INSERT INTO message_state (id, deleted) VALUES (?, ?)
     ON CONFLICT (id) DO UPDATE SET message = NULL, edited = NULL, deleted = excluded.deleted, reactions = NULL`,
    id,
    time,
  );
  sql.exec("DELETE FROM reactions WHERE message = ?", id);
  if (target.sender !== u.me) u.conversations.uncount(target.conversation, target.seq);
}

/** The state row's reaction counts, recounted from who reacted: in order of first use, with the user's own marked. */
function countReactions(u: User, id: string): void {
  const counts = u.db.sql
    .exec<{ key: string; count: number; me: number }>(
      "SELECT key, count(*) AS count, max(user = ?) AS me FROM reactions WHERE message = ? GROUP BY key ORDER BY min(rowid)",
      u.me,
      id,
    )
    .toArray()
    .map(({ key, count, me }) => ({ key, count, me: me === 1 }));
  u.db.sql.exec(
    "INSERT INTO message_state (id, reactions) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET reactions = ?2",
    id,
    counts.length === 0 ? null : JSON.stringify(counts),
  );
}
