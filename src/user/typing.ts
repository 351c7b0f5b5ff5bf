/**
 * TYPING (PROTOCOL.md, Ephemeral events): never stored, never queued, never
 * retried. At most one `true` per conversation per second is forwarded (the
 * rest are dropped silently); `false` always goes. To a user: one RPC to
 * their object, which hands it to the sockets open then. To a group: one RPC
 * to the group's object, which passes it to every other member's object.
 */
import { errorMessage, logEvent } from "../logging.ts";
import { typingText } from "../protocol/build.ts";
import { isGroupId, type TypingRequest } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { isMember } from "./groups.ts";

const THROTTLE_MS = 1000;

export class Typing {
  /** When a `true` was last forwarded, per conversation. In memory: losing it only lets one more through. */
  private readonly forwarded = new Map<string, number>();

  constructor(private readonly u: User) {}

  send(req: TypingRequest, now: number): void {
    const u = this.u;
    if (isGroupId(req.to) && !isMember(u, req.to)) throw new ProtocolError("FORBIDDEN", "you are not a member of this group", req.id);
    // To a user this user blocks: dropped (PROTOCOL.md, Blocking).
    if (req.to === u.me || u.blocks.has(req.to)) return;
    if (req.typing) {
      if (now - (this.forwarded.get(req.to) ?? Number.NEGATIVE_INFINITY) < THROTTLE_MS) return;
      this.forwarded.set(req.to, now);
    } else {
      this.forwarded.delete(req.to);
    }
    const frame = typingText(u.me, req.to, req.typing, now);
    const sent = isGroupId(req.to)
      ? u.env.GROUPS.getByName(req.to).typing(u.me, frame, req.typing)
      : u.env.USERS.getByName(req.to).live([frame], u.me);
    // Ephemeral: a failed hop is a lost "typing…", which the next one replaces.
    u.ctx.waitUntil(sent.catch((err: unknown) => logEvent("info", "typing_dropped", { user: u.me, to: req.to, error: errorMessage(err) })));
  }
}
