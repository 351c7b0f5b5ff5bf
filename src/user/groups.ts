/**
 * The user's side of groups: sending to a group the user is a member of,
 * knowing which groups those are (learned from the GROUP_EVENT frames in the
 * user's own log, in the group's order), and hearing that a message was
 * refused after its ack because its sender had been removed meanwhile.
 */
import { type Envelope, messageEnvelope } from "../envelope.ts";
import type { Refused } from "../group/post.ts";
import { lateRefusalText, withSeq } from "../protocol/build.ts";
import { type GroupEventFrame, type SendFrame, SYSTEM } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { addsMe } from "./order.ts";
import type { Sent } from "./send.ts";
import { check } from "./state.ts";

/** The same answer whether the group exists or not: a non-member learns nothing about it. */
const NOT_A_MEMBER = "you are not a member of this group";

export function isMember(u: User, group: string): boolean {
  return u.db.exists && u.db.sql.exec("SELECT 1 FROM memberships WHERE group_id = ?", group).toArray().length > 0;
}

/** Claims the client id and queues the message for the group; its copies come back in the group's order. */
export function sendToGroup(u: User, frame: SendFrame, now: number, from?: WebSocket): Sent {
  if (!isMember(u, frame.to)) throw new ProtocolError("FORBIDDEN", NOT_A_MEMBER);
  // A resend is flushed too: the first try may still be waiting in the outbox.
  const earlier = u.log.earlierSend(frame.id);
  if (earlier) return { ...earlier, flush: frame.to };
  // What the user's log already tells is refused before the ack; the group decides the rest in its order.
  check(u, frame, now);
  const serverId = crypto.randomUUID();
  u.log.claimClientId(frame.id, serverId, now);
  const envelope = { ...messageEnvelope(u.me, serverId, frame, now), clientId: frame.id };
  if (from) envelope.origin = u.sockets.attachment(from).connectionId;
  u.outbox.enqueue(envelope);
  return { serverId, time: now, flush: frame.to };
}

/** A GROUP_EVENT just logged: the user's memberships and the conversation's name follow it. */
export function learn(u: User, e: Envelope): void {
  // The frame is the group object's own, never a client's payload.
  const { message: event } = JSON.parse(e.frame) as GroupEventFrame;
  const joined = addsMe(u.me, e);
  const gone = (event.event === "member_removed" || event.event === "member_left") && event.user === u.me;
  if (joined) u.db.sql.exec("INSERT INTO memberships (group_id) VALUES (?) ON CONFLICT DO NOTHING", e.recipient);
  if (gone) u.db.sql.exec("DELETE FROM memberships WHERE group_id = ?", e.recipient);
  if (event.name !== undefined) u.conversations.named(e.recipient, event.name);
}

/**
 * The group refused messages this user sent (they had been removed, or the
 * group refused a reply, edit, delete or reaction in its order): an ERROR
 * for each, logged for every device.
 */
export function refused(u: User, messages: Refused[], now: number): void {
  if (messages.length === 0) return;
  const sockets = u.sockets.live(now);
  for (const m of messages) {
    const id = crypto.randomUUID();
    const envelope: Envelope = {
      id,
      sender: SYSTEM,
      recipient: u.me,
      type: "ERROR",
      frame: lateRefusalText(id, m.clientId, m.id, now, m.code, m.reason),
    };
    const seq = u.log.append(envelope, sockets.length === 0, now, u.config.logMaxRows);
    if (seq === null) continue;
    for (const ws of sockets) u.sockets.hand(ws, withSeq(envelope.frame, seq), now);
  }
}
