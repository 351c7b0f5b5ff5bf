/**
 * Frames arriving from other objects (RPC `deliver`): each is logged once
 * (by its server id: delivery is retried) and handed to every live socket of
 * the user. A frame that no socket took waits in the offline queue.
 */
import type { Envelope } from "../envelope.ts";
import { withSeq } from "../protocol/build.ts";
import type { User } from "./context.ts";

export function deliver(u: User, envelopes: Envelope[], now: number): void {
  // Expired sockets are closed here, before anything is handed to them.
  const sockets = u.sockets.live(now);
  for (const envelope of envelopes) {
    const seq = u.log.append(envelope, sockets.length === 0, now, u.config.logMaxRows);
    if (seq === null) continue;
    const text = withSeq(envelope.frame, seq);
    for (const ws of sockets) u.sockets.hand(ws, text, now);
  }
}
