/**
 * Frames arriving from other objects (RPC `deliver`): each is logged once
 * (by its server id: delivery is retried) and handed to every live socket of
 * the user but the one that sent it (a group sends its sender's copy back).
 * A frame that no socket took waits in the offline queue, except the user's
 * own copies, which a new device gets with `since`.
 */
import type { Envelope } from "../envelope.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { withSeq } from "../protocol/build.ts";
import type { ReceiptFrame } from "../protocol/frames.ts";
import { offlineEvent, type QueuedEvent } from "../webhooks/events.ts";
import { withheld } from "./blocks.ts";
import type { User } from "./context.ts";
import { conversationOf } from "./conversations.ts";
import { learn } from "./groups.ts";
import { namesHidden } from "./hide.ts";
import { GroupOrder } from "./order.ts";
import { apply } from "./state.ts";

/** Logs and hands out the frames; false if it stopped at a group frame that must wait for an earlier one (see order.ts). */
export function deliver(u: User, envelopes: Envelope[], now: number): boolean {
  const offline: QueuedEvent[] = [];
  const order = new GroupOrder(u);
  // A batch moves each conversation's index row once (conversations.ts), in this turn's commit.
  u.conversations.defer();
  let complete: boolean;
  try {
    complete = take(u, envelopes, order, offline, now);
  } finally {
    u.conversations.flush();
  }
  order.save();
  // Sent in the turn that logged the frames (the output gate holds it until their commit). A queue that
  // fails must not fail the delivery: the frames are logged, and a retried delivery would produce nothing.
  if (offline.length > 0) {
    u.ctx.waitUntil(
      u.env.WEBHOOKS.sendBatch(offline.map((body) => ({ body }))).catch((err: unknown) =>
        logEvent("error", "webhook_enqueue_failed", { user: u.me, events: offline.map((e) => e.id), error: errorMessage(err) }),
      ),
    );
  }
  return complete;
}

/** Each frame in order: logged once, handed to the sockets, or queued (`offline` gets its webhook event); false at a frame that must wait. */
function take(u: User, envelopes: Envelope[], order: GroupOrder, offline: QueuedEvent[], now: number): boolean {
  // Expired sockets are closed here, before anything is handed to them.
  const sockets = u.sockets.live(now);
  for (const envelope of envelopes) {
    const admission = order.admit(envelope);
    if (admission === "have") continue;
    if (admission === "wait") return false;
    if (withheld(u, envelope) || namesHidden(u, envelope)) continue;
    const own = envelope.sender === u.me;
    const queued = sockets.length === 0 && !own;
    const seq = u.log.append(envelope, queued, now, u.config.logMaxRows);
    if (seq === null) continue;
    if (queued && u.config.webhooks && (envelope.type === "USER_MSG" || envelope.type === "NOTICE")) {
      const conversation = conversationOf(u.me, envelope);
      // A muted conversation makes no push (until its mutedUntil).
      if (!u.conversations.muted(conversation, now)) {
        offline.push(offlineEvent(u.me, conversation, envelope, u.config.webhooks.includeMessage, now));
      }
    }
    if (envelope.type === "ACK_MSG") peerReceipt(u, envelope);
    if (envelope.type === "GROUP_EVENT") learn(u, envelope);
    apply(u, envelope);
    const text = withSeq(envelope.frame, seq);
    for (const ws of sockets) if (envelope.origin !== u.sockets.attachment(ws).connectionId) u.sockets.hand(ws, text, now);
  }
  return true;
}

/**
 * Frames for the sockets open now and no one else: not logged, not queued (a
 * group's receipts, ephemeral events). A blocked user's direct ones (`from`)
 * are dropped; a group's come without `from`: the group is shared.
 */
export function live(u: User, frames: string[], from: string | undefined, now: number): void {
  if (from !== undefined && u.blocks.has(from)) return;
  const sockets = u.sockets.live(now);
  for (const text of frames) for (const ws of sockets) u.sockets.hand(ws, text, now);
}

/** A receipt from the peer about one of the user's own messages moves the conversation's peer watermark. */
function peerReceipt(u: User, envelope: Envelope): void {
  // A receipt frame is the server's own (receiptText), never a client's payload.
  const { message, content } = JSON.parse(envelope.frame) as ReceiptFrame;
  const mine = u.log.lookup(message);
  if (mine?.sender === u.me && mine.type === "USER_MSG") u.conversations.peerReported(mine.conversation, content, mine.seq);
}
