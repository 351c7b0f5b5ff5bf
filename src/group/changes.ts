/**
 * Replies, edits, deletes and reactions in a group (PROTOCOL.md, v3): the
 * group decides them in its one order, after the sender's ack, so a refusal
 * here is a late one (an ERROR with the server id, as for a removed
 * member's message). Who may do what: anyone replies to or reacts on a
 * message that was not deleted; only its sender edits it; its sender or an
 * admin deletes it, which erases its payload and its edits' in the group's
 * log before the delete is fanned out (members' objects erase their copies
 * when the delete reaches them, and so do former members' that received the
 * message).
 */
import type { Envelope } from "../envelope.ts";
import { ERASED_FRAME_SQL, payloadOf } from "../protocol/build.ts";
import type { ErrorCode, Reaction } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import { reactionChanges, setReaction } from "../reactions.ts";
import type { Group } from "./context.ts";

export interface Refusal {
  code: ErrorCode;
  reason: string;
}

/** What the group does with a frame that names an earlier message: take it, drop it (a no-op reaction), or refuse it. */
export function decide(g: Group, e: Envelope, now: number): Refusal | "noop" | null {
  if (e.ref === undefined) return null;
  const target = g.log.byId(e.ref);
  if (target?.type !== "USER_MSG") return { code: "UNKNOWN_MESSAGE", reason: `no message ${JSON.stringify(e.ref)} in this group` };
  if (target.deleted !== null) return { code: "FORBIDDEN", reason: "that message was deleted" };
  switch (e.type) {
    case "MESSAGE_EDIT":
      if (target.sender !== e.sender) return { code: "FORBIDDEN", reason: "only its sender can edit a message" };
      if (now - target.created > g.config.editWindowMs) return { code: "FORBIDDEN", reason: "too late to edit that message" };
      return null;
    case "MESSAGE_DELETE":
      if (target.sender !== e.sender && g.members.get(e.sender)?.role !== "admin") {
        return { code: "FORBIDDEN", reason: "only its sender or a group admin can delete a message for everyone" };
      }
      return null;
    case "REACTION":
      try {
        return reactionChanges(g.db.sql, e.ref, e.sender, reactionOf(e)) ? null : "noop";
      } catch (err) {
        if (err instanceof ProtocolError) return { code: err.code, reason: err.message };
        throw err;
      }
    default:
      return null;
  }
}

/** A change the group took (just logged): a delete erases, a reaction is counted. */
export function changed(g: Group, e: Envelope, now: number): void {
  if (e.ref === undefined) return;
  if (e.type === "MESSAGE_DELETE") {
    g.db.sql.exec(`UPDATE frames SET frame = ${ERASED_FRAME_SQL} WHERE id = ?1 OR (ref = ?1 AND type = 'MESSAGE_EDIT')`, e.ref);
    g.db.sql.exec("UPDATE frames SET deleted = ? WHERE id = ?", now, e.ref);
    g.db.sql.exec("DELETE FROM reactions WHERE message = ?", e.ref);
    g.spans.owedErasure(g.log.byId(e.ref)!.gseq, g.log.byId(e.id)!.gseq);
  } else if (e.type === "REACTION") {
    setReaction(g.db.sql, e.ref, e.sender, reactionOf(e));
  }
}

/** A reaction's payload: the server built it (envelope.ts), so it is exactly `{"key","on"}`. */
function reactionOf(e: Envelope): Reaction {
  return JSON.parse(payloadOf(e.frame)!) as Reaction;
}
