/**
 * MESSAGE_DELIVERED / MESSAGE_READ from the user about a message in their
 * log: only the message's recipient may give one, and its sender is told
 * once per kind (the `receipts` table remembers what was told).
 */
import type { Envelope } from "../envelope.ts";
import { isoSecond, receiptText, withSeq } from "../protocol/build.ts";
import { isGroupId, type ReceiptRequest } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { isMember } from "./groups.ts";
import type { LogEntry } from "./log.ts";

/** Logs the receipt and queues it for the message's sender; returns the user to flush to. */
export function receipt(u: User, ws: WebSocket, req: ReceiptRequest, now: number): string | null {
  const target = u.log.lookup(req.messageId);
  if (target?.type !== "USER_MSG") {
    throw new ProtocolError("UNKNOWN_MESSAGE", `no message ${JSON.stringify(req.messageId)} in your log`);
  }
  if (isGroupId(target.recipient)) return groupReceipt(u, ws, req, target, now);
  if (target.recipient !== u.me) throw new ProtocolError("FORBIDDEN", "only a message's recipient can acknowledge it");
  if (req.content === "MESSAGE_READ") u.conversations.read(target.conversation, target.seq);
  // To a user this user blocks: dropped (PROTOCOL.md, Blocking); the user's own readUpTo still moves.
  if (u.blocks.has(target.sender)) return null;
  if (!recordReceipt(u, req.messageId, req.content, now)) return null;
  const id = crypto.randomUUID();
  const envelope: Envelope = {
    id,
    sender: u.me,
    recipient: target.sender,
    type: "ACK_MSG",
    frame: receiptText(id, u.me, target.sender, isoSecond(now), req.content, req.messageId),
  };
  const seq = u.log.append(envelope, false, now, u.config.logMaxRows)!;
  const toSelf = target.sender === u.me;
  if (!toSelf) u.outbox.enqueue(envelope);
  u.sockets.broadcast(withSeq(envelope.frame, seq), now, ws);
  return toSelf ? null : target.sender;
}

/**
 * A receipt for a group message is a watermark, never logged per message:
 * it moves the user's readUpTo here, goes live to the user's other sockets,
 * and to the group (through the outbox: the watermark must not be lost),
 * which moves the member's watermark and passes it live to the message's sender.
 */
function groupReceipt(u: User, ws: WebSocket, req: ReceiptRequest, target: LogEntry, now: number): string | null {
  if (target.sender === u.me) throw new ProtocolError("FORBIDDEN", "only a message's recipients can acknowledge it");
  if (req.content === "MESSAGE_READ") u.conversations.read(target.conversation, target.seq);
  if (!isMember(u, target.recipient)) return null;
  const id = crypto.randomUUID();
  const frame = receiptText(id, u.me, target.sender, isoSecond(now), req.content, req.messageId);
  u.sockets.broadcast(frame, now, ws);
  u.outbox.enqueue({ id, sender: u.me, recipient: target.recipient, type: "ACK_MSG", frame });
  return target.recipient;
}

/** True the first time a receipt of this kind is recorded for a message. */
function recordReceipt(u: User, messageId: string, content: string, now: number): boolean {
  return (
    u.db.write
      .exec(
        "INSERT INTO receipts (message_id, content, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
        messageId,
        content,
        now,
      )
      .toArray().length === 1
  );
}

/** Forgets receipts older than `cutoff`; returns when the oldest remaining one was recorded, or null. */
export function pruneReceipts(u: User, cutoff: number): number | null {
  if (!u.db.exists) return null;
  u.db.sql.exec("DELETE FROM receipts WHERE created < ?", cutoff);
  return u.db.sql.exec<{ t: number | null }>("SELECT min(created) AS t FROM receipts").one().t;
}
