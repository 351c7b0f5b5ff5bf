/**
 * Frames arriving from other objects (RPC `deliver`): each is logged once
 * (by its server id: delivery is retried) and handed to every live socket of
 * the user. A frame that no socket took waits in the offline queue.
 */
import type { Envelope } from "../envelope.ts";
import { withSeq } from "../protocol/build.ts";
import type { ReceiptFrame } from "../protocol/frames.ts";
import type { User } from "./context.ts";

export function deliver(u: User, envelopes: Envelope[], now: number): void {
  // Expired sockets are closed here, before anything is handed to them.
  const sockets = u.sockets.live(now);
  for (const envelope of envelopes) {
    const seq = u.log.append(envelope, sockets.length === 0, now, u.config.logMaxRows);
    if (seq === null) continue;
    if (envelope.type === "ACK_MSG") peerReceipt(u, envelope);
    const text = withSeq(envelope.frame, seq);
    for (const ws of sockets) u.sockets.hand(ws, text, now);
  }
}

/** A receipt from the peer about one of the user's own messages moves the conversation's peer watermark. */
function peerReceipt(u: User, envelope: Envelope): void {
  // A receipt frame is the server's own (receiptText), never a client's payload.
  const { message, content } = JSON.parse(envelope.frame) as ReceiptFrame;
  const mine = u.log.lookup(message);
  if (mine?.sender === u.me && mine.type === "USER_MSG") u.conversations.peerReported(mine.conversation, content, mine.seq);
}
