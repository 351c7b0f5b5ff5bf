/** USER_MSG from one of the user's sockets: dedupe by client id, log, outbox, ack after the commit. */
import type { Envelope } from "../envelope.ts";
import { isoSecond, receivedAck, userMsgText, withSeq } from "../protocol/build.ts";
import type { SendFrame } from "../protocol/frames.ts";
import type { User } from "./context.ts";

/** Stores the message and acks it (the ack leaves after the commit); returns the recipient to flush to. */
export function send(u: User, ws: WebSocket, frame: SendFrame, now: number): string | null {
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
  if (!("seq" in logged)) {
    // A resend after a lost ack: same answer, no second delivery.
    u.sockets.hand(ws, receivedAck(frame.id, u.me, isoSecond(logged.time), logged.serverId), now);
    return null;
  }
  const toSelf = frame.to === u.me;
  if (!toSelf) u.outbox.enqueue(envelope);
  // A lost ack is harmless: the client resends the same id and gets this answer again.
  u.sockets.hand(ws, receivedAck(frame.id, u.me, time, serverId), now);
  u.sockets.broadcast(withSeq(envelope.frame, logged.seq), now, ws);
  return toSelf ? null : frame.to;
}
