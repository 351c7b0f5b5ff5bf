/**
 * A USER_MSG from the user: from one of their sockets, or from the app's
 * backend through the server API (no socket: every guarantee is the same).
 * Dedupe by client id, log, outbox, and the ack, which leaves after the
 * commit. A message to a group is checked against the user's memberships
 * and goes to the group's object, which gives it its place in the group's
 * order and sends the sender's copy back (groups.ts).
 */
import { messageEnvelope } from "../envelope.ts";
import { withSeq } from "../protocol/build.ts";
import { isGroupId, type SendFrame, SYSTEM } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { sendToGroup } from "./groups.ts";

/** The answer to a send: the ack's server id and time, and the object whose outbox now has the message. */
export interface Sent {
  serverId: string;
  time: number;
  flush: string | null;
}

/** Stores the message; `from` is the socket it came on (it gets no copy), if any. */
export function send(u: User, frame: SendFrame, now: number, from?: WebSocket): Sent {
  if (frame.to === SYSTEM) throw new ProtocolError("FORBIDDEN", "'system' is the server; it takes no messages");
  if (isGroupId(frame.to)) return sendToGroup(u, frame, now, from);
  const serverId = crypto.randomUUID();
  const envelope = messageEnvelope(u.me, serverId, frame, now);
  const logged = u.log.appendSend(envelope, frame.id, now, u.config.logMaxRows);
  // A resend after a lost ack: the same answer, and no second delivery.
  if (!("seq" in logged)) return { ...logged, flush: null };
  const toSelf = frame.to === u.me;
  if (!toSelf) u.outbox.enqueue(envelope);
  u.sockets.broadcast(withSeq(envelope.frame, logged.seq), now, from);
  return { serverId, time: now, flush: toSelf ? null : frame.to };
}
