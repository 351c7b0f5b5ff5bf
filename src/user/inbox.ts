/**
 * Frames from the user's sockets, handled with group commit: every frame
 * waits for the next batch turn, which the first one schedules; the frames
 * that arrive meanwhile join it. The batch is handled in one synchronous
 * turn, so its writes commit together (one commit instead of one per frame)
 * and the output gate releases its acks after that commit. Frames are handled
 * in arrival order, so replies on a socket keep the order of its frames. The
 * 0 ms timer only yields to the event loop; it never keeps an idle object awake.
 */
import { MAX_ID_LENGTH, MAX_JSON_DEPTH } from "../config.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { errorFrame, isoSecond, receivedAck } from "../protocol/build.ts";
import type { ClientFrame } from "../protocol/frames.ts";
import { frameRef, type Limits, ProtocolError, parseClientFrame } from "../protocol/parse.ts";
import { refuseBlocked } from "./blocks.ts";
import type { User } from "./context.ts";
import { Holdback } from "./holdback.ts";
import { subscribe } from "./presence.ts";
import type { RateLimiter } from "./rate.ts";
import { receipt } from "./receipts.ts";
import { refresh } from "./refresh.ts";
import { send } from "./send.ts";
import { CLOSE_RATE_ABUSE } from "./sockets.ts";
import { Typing } from "./typing.ts";

interface Arrival {
  ws: WebSocket;
  data: string | ArrayBuffer;
  now: number;
}

export class Inbox {
  /** Frames waiting for the next batch turn: only frames not yet acked, which clients resend if lost. */
  private waiting: Arrival[] = [];
  private readonly limits: Limits;

  private readonly typing: Typing;
  private readonly holdback: Holdback;

  constructor(
    private readonly u: User,
    private readonly rate: RateLimiter,
  ) {
    this.holdback = new Holdback(u.sockets);
    this.typing = new Typing(u);
    this.limits = { maxMessageBytes: u.config.maxMessageBytes, maxIdLength: MAX_ID_LENGTH, maxDepth: MAX_JSON_DEPTH };
  }

  push(ws: WebSocket, data: string | ArrayBuffer): void {
    if (this.waiting.push({ ws, data, now: Date.now() }) === 1) setTimeout(() => this.handleBatch(), 0);
  }

  private handleBatch(): void {
    const batch = this.waiting;
    this.waiting = [];
    const recipients = new Set<string>();
    for (const { ws, data, now } of batch) {
      const to = this.handleFrame(ws, data, now);
      if (to !== null) recipients.add(to);
    }
    if (recipients.size === 0) return;
    const now = Date.now();
    // Delivery runs from the outbox; the alarm covers a flush that never finishes.
    this.u.outbox.guard(now);
    for (const recipient of recipients) this.u.ctx.waitUntil(this.u.outbox.flush(recipient, now));
  }

  /**
   * Parses a frame and lets it through the send rate and the hold-back after
   * a rate refusal; throws the ProtocolError it is answered with. Even a bad
   * frame takes a token (a flood of junk is limited like any other).
   */
  private admit(ws: WebSocket, data: string | ArrayBuffer, now: number): ClientFrame {
    let frame: ClientFrame | undefined;
    let bad: unknown;
    try {
      frame = parseClientFrame(data, this.limits);
    } catch (err) {
      bad = err;
    }
    const message = frame?.type === "USER_MSG" ? frame.id : undefined;
    const held = this.holdback.heldFor(ws);
    // Held back: no token taken and no strike counted, so a client's pipelined frames cannot add up to the abuse close.
    if (held !== undefined && message !== undefined && message !== held) {
      throw new ProtocolError("RATE_LIMITED", `held back after the refusal of '${held}'; resend from it, in order`, message);
    }
    if (!this.rate.take(ws, now)) {
      if (message !== undefined) this.holdback.hold(ws, message);
      const { rateLimitPerSecond, rateLimitBurst } = this.u.config;
      throw new ProtocolError(
        "RATE_LIMITED",
        `over ${rateLimitPerSecond} frames per second (burst ${rateLimitBurst}); slow down and resend`,
        frame?.id ?? frameRef(data, this.limits),
      );
    }
    if (frame === undefined) throw bad;
    if (held !== undefined && message === held) this.holdback.release(ws);
    return frame;
  }

  /** Handles one frame; returns the object that now has frames waiting in the outbox, if any. */
  private handleFrame(ws: WebSocket, data: string | ArrayBuffer, now: number): string | null {
    // Frames already waiting on a socket the server closed (abuse, expiry, too many) are not served;
    // those a client sent just before closing its socket are (a last receipt, a TYPING false).
    if (this.u.sockets.closedByServer(ws)) return null;
    // A frame on an expired socket is not handled at all: the socket is closed, the client resends.
    if (this.u.sockets.expired(ws, now)) return null;
    const { user, connectionId } = this.u.sockets.attachment(ws);
    let ref: string | undefined;
    try {
      const frame = this.admit(ws, data, now);
      ref = frame.id;
      switch (frame.type) {
        case "SYSTEM_MSG":
          // Verifying a token is asynchronous; it runs beside the batch and answers when done.
          this.u.ctx.waitUntil(refresh(this.u, ws, frame));
          return null;
        case "USER_MSG": {
          // The user's own blocks bind their sockets; the server API's sendAs is not bound by them.
          refuseBlocked(this.u, frame);
          // A savepoint per frame: a frame that fails leaves nothing behind in the batch's commit.
          const sent = this.u.db.atomically(() => send(this.u, frame, now, ws));
          // A lost ack is harmless: the client resends the same id and gets this answer again.
          this.u.sockets.hand(ws, receivedAck(frame.id, user, isoSecond(sent.time), sent.serverId), now);
          return sent.flush;
        }
        case "ACK_MSG":
          return this.u.db.atomically(() => receipt(this.u, ws, frame, now));
        case "EVENT_MSG":
          if (frame.content === "TYPING") this.typing.send(frame, now);
          // The watched users answer over RPC; the answers come back as PRESENCE frames.
          else this.u.ctx.waitUntil(subscribe(this.u, ws, frame));
          return null;
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        logEvent("info", "frame_refused", { user, connectionId, code: err.code });
        this.u.sockets.hand(ws, errorFrame(err.code, err.message, err.ref ?? ref, now), now);
        if (err.code === "RATE_LIMITED" && this.rate.abusive(ws)) {
          logEvent("warn", "rate_abuse", { user, connectionId, code: err.code });
          this.u.sockets.close(ws, CLOSE_RATE_ABUSE, "rate limit exceeded repeatedly");
        }
        return null;
      }
      logEvent("error", "frame_failed", { user, connectionId, code: "INTERNAL", error: errorMessage(err) });
      this.u.sockets.hand(ws, errorFrame("INTERNAL", "the server could not handle this frame; it was not stored", ref, now), now);
      return null;
    }
  }
}
