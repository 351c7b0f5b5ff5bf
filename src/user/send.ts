/**
 * A USER_MSG from the user: from one of their sockets, or from the app's
 * backend through the server API (no socket: every guarantee is the same).
 * Dedupe by client id, log, outbox, and the ack, which leaves after the
 * commit. A message to a group is checked against the user's memberships
 * and goes to the group's object, which gives it its place in the group's
 * order and sends the sender's copy back (groups.ts). A reply, edit,
 * delete or reaction is checked against the message it names first
 * (state.ts), and changes that message's state in the same commit.
 */
import { messageEnvelope } from "../envelope.ts";
import { withSeq } from "../protocol/build.ts";
import { isGroupId, type SendFrame, SYSTEM } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { sendToGroup } from "./groups.ts";
import { apply, check } from "./state.ts";

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
  if ("ref" in frame || frame.replyTo !== undefined) {
    // A resend is answered as the first try was, before the checks its first try may have changed the answer to.
    const earlier = u.log.earlierSend(frame.id);
    if (earlier) return { ...earlier, flush: null };
    if (check(u, frame, now) === "noop") return noop(u, frame.id, now);
  }
  const serverId = crypto.randomUUID();
  const envelope = messageEnvelope(u.me, serverId, frame, now);
  const logged = u.log.appendSend(envelope, frame.id, now, u.config.logMaxRows);
  // A resend after a lost ack: the same answer, and no second delivery.
  if (!("seq" in logged)) return { ...logged, flush: null };
  apply(u, envelope);
  const toSelf = frame.to === u.me;
  if (!toSelf) u.outbox.enqueue(envelope);
  u.sockets.broadcast(withSeq(envelope.frame, logged.seq), now, from);
  return { serverId, time: now, flush: toSelf ? null : frame.to };
}

/** A reaction that changes nothing: acked with a server id that nothing else shows, and the same one on a resend. */
function noop(u: User, clientId: string, now: number): Sent {
  const serverId = crypto.randomUUID();
  u.log.claimClientId(clientId, serverId, now);
  return { serverId, time: now, flush: null };
}
