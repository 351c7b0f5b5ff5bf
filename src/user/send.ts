/**
 * USER_MSG from one of the user's sockets: dedupe by client id, log, outbox,
 * ack after the commit. A message to a group is checked against the user's
 * memberships and goes to the group's object, which gives it its place in
 * the group's order and sends the sender's copy back (groups.ts).
 */
import type { Envelope } from "../envelope.ts";
import { isoSecond, receivedAck, userMsgText, withSeq } from "../protocol/build.ts";
import { isGroupId, type SendFrame, SYSTEM } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { sendToGroup } from "./groups.ts";

/** Stores the message and acks it (the ack leaves after the commit); returns the object to flush to. */
export function send(u: User, ws: WebSocket, frame: SendFrame, now: number): string | null {
  if (frame.to === SYSTEM) throw new ProtocolError("FORBIDDEN", "'system' is the server; it takes no messages");
  if (isGroupId(frame.to)) return sendToGroup(u, ws, frame, now);
  const earlier = u.log.earlierGroupSend(frame.id);
  if (earlier) return resend(u, ws, frame.id, earlier, now);
  const serverId = crypto.randomUUID();
  const time = isoSecond(now);
  const envelope: Envelope = {
    id: serverId,
    sender: u.me,
    recipient: frame.to,
    type: "USER_MSG",
    frame: userMsgText(serverId, u.me, frame.to, time, frame.content, frame.rawMessage),
  };
  const logged = u.log.appendSend(envelope, frame.id, now, u.config.logMaxRows);
  if (!("seq" in logged)) return resend(u, ws, frame.id, logged, now);
  const toSelf = frame.to === u.me;
  if (!toSelf) u.outbox.enqueue(envelope);
  // A lost ack is harmless: the client resends the same id and gets this answer again.
  u.sockets.hand(ws, receivedAck(frame.id, u.me, time, serverId), now);
  u.sockets.broadcast(withSeq(envelope.frame, logged.seq), now, ws);
  return toSelf ? null : frame.to;
}

/** A resend after a lost ack: the same answer, and no second delivery. */
export function resend(u: User, ws: WebSocket, clientId: string, earlier: { serverId: string; time: number }, now: number): null {
  u.sockets.hand(ws, receivedAck(clientId, u.me, isoSecond(earlier.time), earlier.serverId), now);
  return null;
}
