/**
 * A report's evidence (PROTOCOL.md, Blocking, reports and conversation
 * settings), taken from the reporter's own log, so a report holds only what
 * the reporter could see: each reported message as logged and up to 10
 * history frames before it in that conversation, anyone's, oldest first,
 * each once. The checks answer as the HTTP API does: 400 naming the field.
 */
import { withSeq } from "../protocol/build.ts";
import { isGroupId } from "../protocol/frames.ts";
import type { User } from "./context.ts";

/** How many frames before each reported message go with it. */
export const EVIDENCE_BEFORE = 10;

export type Evidence = { ok: true; frames: string[] } | { ok: false; error: string; reason: string };

const str = JSON.stringify;

/** The evidence for a report of `messages` (server ids) and/or `user` in `conversation`. */
export function evidence(u: User, conversation: string, messages: string[], user: string | null): Evidence {
  const seqs: number[] = [];
  for (const [i, id] of messages.entries()) {
    const target = u.log.lookup(id);
    if (target?.type !== "USER_MSG") return refuse("messages", `messages.${i}: no message ${str(id)} in your log`);
    if (target.conversation !== conversation)
      return refuse("messages", `messages.${i}: ${str(id)} is not in conversation ${str(conversation)}`);
    seqs.push(target.seq);
  }
  if (messages.length === 0 && !has(u, conversation))
    return refuse("conversation", `conversation: you have no conversation ${str(conversation)}`);
  if (user !== null && !isParty(u, conversation, user)) return refuse("user", `user: ${str(user)} is not a party of this conversation`);
  const frames = new Map<number, string>();
  for (const seq of seqs) {
    const rows = u.db.sql
      .exec<{ seq: number; frame: string }>(
        `SELECT seq, frame FROM log WHERE conversation = ? AND type IN ('USER_MSG', 'NOTICE', 'GROUP_EVENT') AND seq <= ?
         ORDER BY seq DESC LIMIT ?`,
        conversation,
        seq,
        EVIDENCE_BEFORE + 1,
      )
      .toArray();
    for (const r of rows) frames.set(r.seq, withSeq(r.frame, r.seq));
  }
  return { ok: true, frames: [...frames.entries()].sort(([a], [b]) => a - b).map(([, f]) => f) };
}

function refuse(field: string, reason: string): Evidence {
  return { ok: false, error: `bad_${field}`, reason };
}

function has(u: User, conversation: string): boolean {
  return u.db.exists && u.db.sql.exec("SELECT 1 FROM conversations WHERE id = ?", conversation).toArray().length > 0;
}

/**
 * The other user of a direct conversation; in a group, anyone the
 * reporter's log shows writing there (members the reporter never saw write
 * have left no trace to report).
 */
function isParty(u: User, conversation: string, user: string): boolean {
  if (user === u.me) return false;
  if (!isGroupId(conversation)) return user === conversation && has(u, conversation);
  return (
    u.db.exists &&
    u.db.sql
      .exec(
        `SELECT 1 FROM log WHERE conversation = ? AND type IN ('USER_MSG', 'NOTICE', 'GROUP_EVENT') AND sender = ? LIMIT 1`,
        conversation,
        user,
      )
      .toArray().length > 0
  );
}
