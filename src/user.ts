/**
 * One Durable Object per user: it holds the user's sockets (hibernatable),
 * the user's log, and the outbox of frames owed to other users' objects.
 *
 *   socket ─▶ webSocketMessage ─▶ inbox ─▶ handleBatch (one turn, one commit for every frame in it)
 *               handleFrame ─▶ send()    ─▶ ACK (after the commit) ─▶ flush() ─RPC─▶ deliver() on the recipient
 *                           └▶ receipt() ───────────────────────────▶ flush() ─RPC─▶ deliver() on the sender
 *
 * Nothing that matters lives in fields: hibernation erases them. The socket
 * attachment holds who the socket is; SQLite holds everything else. The
 * fields below are caches and in-flight bookkeeping that are safe to lose
 * (the inbox holds only frames not yet acked, which clients resend).
 */
import { DurableObject } from "cloudflare:workers";
import { type Config, type Env, MAX_ID_LENGTH, MAX_JSON_DEPTH, readConfig } from "./config.ts";
import { errorMessage, logEvent } from "./log.ts";
import {
  connectionIdFrame,
  errorFrame,
  frameRef,
  httpError,
  isoSecond,
  type Limits,
  ProtocolError,
  parseClientFrame,
  type ReceiptRequest,
  receiptText,
  receivedAck,
  type SendFrame,
  userMsgText,
  withSeq,
} from "./protocol.ts";
import { type Envelope, Store } from "./store.ts";

/** Headers the Worker sets on the forwarded upgrade; the object is reachable only through the Worker. */
export const USER_HEADER = "X-LunarLoom-User";
export const EXPIRES_HEADER = "X-LunarLoom-Expires";

/** What a socket carries through hibernation. Small (attachments must stay under 2 KiB), and never the token. */
interface Attachment {
  user: string;
  connectionId: string;
  /** When the token expires (ms); the socket is closed then. */
  expiresAt: number | null;
  connectedAt: number;
}

/** Outbox rows sent per RPC: one round trip for a burst, bounded in size. */
const BATCH_SIZE = 256;
/** If the object dies between ack and delivery, this alarm finds the outbox. */
const SAFETY_NET_MS = 10_000;
const RETRY_CAP_MS = 60_000;

/** Application close codes (4000-4999 are free for applications). */
const CLOSE_TOKEN_EXPIRED = 4001;
const CLOSE_TOO_MANY_SOCKETS = 4008;
/** 1008 is the standard "policy violation". */
const CLOSE_RATE_ABUSE = 1008;

export class UserObject extends DurableObject<Env> {
  private readonly store: Store;
  private readonly config: Config;
  private readonly limits: Limits;
  /** One delivery in flight per recipient keeps per-recipient order and batches bursts. */
  private readonly flushing = new Map<string, Promise<void>>();
  /** The alarm as last read or set; undefined until read after a wake. */
  private alarmAt: number | null | undefined;
  private tokens: number;
  private tokensAt = Date.now();
  /** Frames waiting for the next batch turn (see webSocketMessage). */
  private inbox: { ws: WebSocket; data: string | ArrayBuffer; now: number }[] = [];
  /** Frames refused in a row for rate, per socket; sustained abuse closes the socket. */
  private readonly strikes = new WeakMap<WebSocket, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new Store(ctx.storage);
    this.config = readConfig(env);
    this.limits = { maxMessageBytes: this.config.maxMessageBytes, maxIdLength: MAX_ID_LENGTH, maxDepth: MAX_JSON_DEPTH };
    this.tokens = this.config.rateLimitBurst;
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  // ---- connecting --------------------------------------------------------------

  /** The Worker forwards an authenticated upgrade here. */
  override async fetch(request: Request): Promise<Response> {
    const user = request.headers.get(USER_HEADER);
    if (!user) return httpError(400, "bad_request", "not forwarded by the Worker");
    const expires = request.headers.get(EXPIRES_HEADER);
    const since = new URL(request.url).searchParams.get("since");

    const now = Date.now();
    const attachment: Attachment = {
      user,
      connectionId: crypto.randomUUID(),
      expiresAt: expires ? Number(expires) : null,
      connectedAt: now,
    };
    if (attachment.expiresAt !== null) await this.wakeBy(attachment.expiresAt);

    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(attachment);
    this.closeOldestBeyond(this.config.maxSocketsPerUser, server);

    // Synchronous from here to the return: no delivery can interleave, so the
    // replay has no gap and no duplicate with the live frames that follow it.
    server.send(connectionIdFrame(user, attachment.connectionId, this.store.latestSeq(), now));
    const backlog = since === null ? this.store.takeQueued() : this.store.replay(Number(since));
    for (const { seq, frame } of backlog) server.send(withSeq(frame, seq));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A user's devices are capped; the newest socket wins, as a user opening a new tab expects. */
  private closeOldestBeyond(max: number, newest: WebSocket): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length <= max) return;
    const byAge = sockets
      .filter((ws) => ws !== newest)
      .map((ws) => ({ ws, at: (ws.deserializeAttachment() as Attachment).connectedAt }))
      .sort((a, b) => a.at - b.at);
    for (const { ws } of byAge.slice(0, sockets.length - max)) {
      closeSocket(ws, CLOSE_TOO_MANY_SOCKETS, `more than ${max} sockets for this user; the oldest was closed`);
    }
  }

  // ---- frames from this user's sockets -----------------------------------------------

  /**
   * Group commit. Every frame waits for the next batch turn, which the first
   * one schedules; the frames that arrive meanwhile join it. The batch is
   * handled in one synchronous turn, so its writes commit together (one
   * commit instead of one per frame) and the output gate releases its acks
   * after that commit. Frames are handled in arrival order, so replies on a
   * socket keep the order of its frames. The 0 ms timer only yields to the
   * event loop; it never keeps an idle object awake.
   */
  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    if (this.inbox.push({ ws, data, now: Date.now() }) === 1) setTimeout(() => this.handleBatch(), 0);
  }

  private handleBatch(): void {
    const batch = this.inbox;
    this.inbox = [];
    const recipients = new Set<string>();
    for (const { ws, data, now } of batch) {
      const to = this.handleFrame(ws, data, now);
      if (to !== null) recipients.add(to);
    }
    const now = Date.now();
    // Delivery runs from the outbox; the alarm covers a flush that never finishes.
    if (recipients.size > 0) this.armSafetyNet(now + SAFETY_NET_MS);
    for (const recipient of recipients) this.ctx.waitUntil(this.flush(recipient, now));
  }

  /** Handles one frame; returns the user whose object now has frames waiting in the outbox, if any. */
  private handleFrame(ws: WebSocket, data: string | ArrayBuffer, now: number): string | null {
    // Frames already queued on a socket we closed (abuse, expiry, too many) are not served.
    if (ws.readyState !== WebSocket.OPEN) return null;
    const { user, connectionId, expiresAt } = ws.deserializeAttachment() as Attachment;
    if (expiresAt !== null && now >= expiresAt) {
      closeExpired(ws);
      return null;
    }
    let ref: string | undefined;
    try {
      if (!this.takeToken(ws, now)) {
        const { rateLimitPerSecond, rateLimitBurst } = this.config;
        throw new ProtocolError(
          "RATE_LIMITED",
          `over ${rateLimitPerSecond} frames per second (burst ${rateLimitBurst}); slow down and resend`,
          frameRef(data, this.limits),
        );
      }
      const frame = parseClientFrame(data, this.limits);
      ref = frame.id;
      // A savepoint per frame: a frame that fails leaves nothing behind in the batch's commit.
      return this.store.atomically(() =>
        frame.type === "USER_MSG" ? this.send(ws, user, frame, now) : this.receipt(ws, user, frame, now),
      );
    } catch (err) {
      if (err instanceof ProtocolError) {
        logEvent("info", "frame_refused", { user, connectionId, code: err.code });
        trySend(ws, errorFrame(err.code, err.message, err.ref ?? ref, now));
        if (err.code === "RATE_LIMITED" && (this.strikes.get(ws) ?? 0) > this.config.rateLimitBurst) {
          logEvent("warn", "rate_abuse", { user, connectionId, code: err.code });
          closeSocket(ws, CLOSE_RATE_ABUSE, "rate limit exceeded repeatedly");
        }
        return null;
      }
      logEvent("error", "frame_failed", { user, connectionId, code: "INTERNAL", error: errorMessage(err) });
      trySend(ws, errorFrame("INTERNAL", "the server could not handle this frame; it was not stored", ref, now));
      return null;
    }
  }

  /** Stores the message and acks it (sent after the commit); returns the recipient to flush to. */
  private send(ws: WebSocket, me: string, frame: SendFrame, now: number): string | null {
    const serverId = crypto.randomUUID();
    const time = isoSecond(now);
    const envelope: Envelope = {
      id: serverId,
      sender: me,
      recipient: frame.to,
      type: "USER_MSG",
      frame: userMsgText(serverId, me, frame.to, time, frame.content, frame.rawMessage),
    };
    const logged = this.store.appendSend(envelope, frame.id, now, this.config.logMaxRows);
    if (!("seq" in logged)) {
      // A resend after a lost ack: same answer, no second delivery.
      trySend(ws, receivedAck(frame.id, me, isoSecond(logged.time), logged.serverId));
      return null;
    }
    if (frame.to !== me) this.store.enqueue(envelope);
    // A lost ack is harmless: the client resends the same id and gets this answer again.
    trySend(ws, receivedAck(frame.id, me, time, serverId));
    this.broadcast(withSeq(envelope.frame, logged.seq), ws);
    return frame.to !== me ? frame.to : null;
  }

  /** Only the message's recipient may acknowledge it; the sender is told once per kind. */
  private receipt(ws: WebSocket, me: string, req: ReceiptRequest, now: number): string | null {
    const target = this.store.lookup(req.messageId);
    if (target?.type !== "USER_MSG") {
      throw new ProtocolError("UNKNOWN_MESSAGE", `no message ${JSON.stringify(req.messageId)} in your log`);
    }
    if (target.recipient !== me) throw new ProtocolError("FORBIDDEN", "only a message's recipient can acknowledge it");
    if (!this.store.recordReceipt(req.messageId, req.content, now)) return null;
    const id = crypto.randomUUID();
    const envelope: Envelope = {
      id,
      sender: me,
      recipient: target.sender,
      type: "ACK_MSG",
      frame: receiptText(id, me, target.sender, isoSecond(now), req.content, req.messageId),
    };
    const seq = this.store.append(envelope, false, now, this.config.logMaxRows)!;
    if (target.sender !== me) this.store.enqueue(envelope);
    this.broadcast(withSeq(envelope.frame, seq), ws);
    return target.sender !== me ? target.sender : null;
  }

  /**
   * A token bucket per user, shared by the user's sockets. Kept in memory:
   * hibernation only follows idleness, which would have refilled it anyway.
   */
  private takeToken(ws: WebSocket, now: number): boolean {
    const { rateLimitPerSecond, rateLimitBurst } = this.config;
    this.tokens = Math.min(rateLimitBurst, this.tokens + ((now - this.tokensAt) / 1000) * rateLimitPerSecond);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes.delete(ws);
      return true;
    }
    this.strikes.set(ws, (this.strikes.get(ws) ?? 0) + 1);
    return false;
  }

  // ---- delivery between objects -------------------------------------------------------

  /**
   * Drains the outbox for one recipient, oldest first, a batch per RPC. A
   * second caller while a drain runs joins it: the running loop picks up the
   * new rows, so there is never more than one call in flight per recipient.
   * A recipient in backoff is left to its retry alarm, whoever asks: new
   * messages and other wakes must not hammer an object that is failing.
   */
  private flush(recipient: string, now: number): Promise<void> {
    const running = this.flushing.get(recipient);
    if (running !== undefined) return running;
    if ((this.store.retryDue(recipient) ?? 0) > now) return Promise.resolve();
    const drain = this.drain(recipient).finally(() => this.flushing.delete(recipient));
    this.flushing.set(recipient, drain);
    return drain;
  }

  private async drain(recipient: string): Promise<void> {
    for (;;) {
      const { envelopes, upTo } = this.store.pending(recipient, BATCH_SIZE);
      if (envelopes.length === 0) return;
      try {
        await this.call(recipient, envelopes);
      } catch (err) {
        // Full-jitter backoff, by alarm: no timers keep the object awake.
        const attempts = this.store.failed(recipient);
        const due = Date.now() + Math.random() * Math.min(RETRY_CAP_MS, 500 * 2 ** attempts);
        this.store.retryAt(recipient, due);
        logEvent("warn", "delivery_failed", { recipient, attempts, retryAt: due, error: errorMessage(err) });
        await this.wakeBy(due);
        return;
      }
      this.store.delivered(recipient, upTo);
    }
  }

  /** One immediate retry, on a fresh stub, for errors the runtime marks retryable and not overloaded. */
  private async call(recipient: string, envelopes: Envelope[]): Promise<void> {
    try {
      await this.env.USERS.getByName(recipient).deliver(envelopes);
    } catch (err) {
      const e = err as { retryable?: boolean; overloaded?: boolean };
      if (!e.retryable || e.overloaded) throw err;
      await this.env.USERS.getByName(recipient).deliver(envelopes);
    }
  }

  /** RPC from another user's object: log each frame once, then push it to this user's sockets. */
  async deliver(envelopes: Envelope[]): Promise<void> {
    const now = Date.now();
    await this.wakeBy(now + this.config.retentionMs);
    const sockets = this.ctx.getWebSockets();
    for (const envelope of envelopes) {
      // A frame handed to any socket counts as sent; with none it waits in the offline queue.
      const seq = this.store.append(envelope, sockets.length === 0, now, this.config.logMaxRows);
      if (seq === null) continue;
      const text = withSeq(envelope.frame, seq);
      for (const ws of sockets) trySend(ws, text);
    }
  }

  private broadcast(text: string, except: WebSocket): void {
    for (const ws of this.ctx.getWebSockets()) if (ws !== except) trySend(ws, text);
  }

  // ---- the alarm: outbox retries, token expiry, retention ----------------------------------

  /**
   * Arms the safety net in the batch's own turn, so the alarm commits with the
   * outbox rows it guards: a crash just after the acks still leaves a wake-up.
   * Right after a wake the current alarm is not known yet and is replaced: at
   * worst an earlier one fires up to SAFETY_NET_MS late, and alarm() then
   * recomputes every deadline.
   */
  private armSafetyNet(at: number): void {
    if (this.alarmAt != null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** Makes sure the alarm fires no later than `at`. Reads storage once per wake, then trusts the cache. */
  private async wakeBy(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    let nextExpiry = Infinity;
    for (const ws of this.ctx.getWebSockets()) {
      const { expiresAt } = ws.deserializeAttachment() as Attachment;
      if (expiresAt === null) continue;
      if (expiresAt <= now) closeExpired(ws);
      else nextExpiry = Math.min(nextExpiry, expiresAt);
    }
    await Promise.all(this.store.outboxRecipients().map((r) => this.flush(r, now)));
    const retentionDue = this.store.prune(now - this.config.retentionMs, this.config.retentionMs) ?? Infinity;
    const outboxDue = this.store.outboxDue(Date.now() + SAFETY_NET_MS) ?? Infinity;
    const next = Math.min(nextExpiry, retentionDue, outboxDue);
    if (next !== Infinity) await this.wakeBy(next);
  }

  // ---- closing -------------------------------------------------------------------------

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Reciprocate the close. 1005/1006/1015 describe a close and cannot be sent.
    closeSocket(ws, code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const { user, connectionId } = ws.deserializeAttachment() as Attachment;
    logEvent("warn", "socket_error", { user, connectionId, error: errorMessage(error) });
  }
}

/** Close reasons over 123 bytes throw; ours are short. A socket already closed is fine. */
function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closing
  }
}

function closeExpired(ws: WebSocket): void {
  closeSocket(ws, CLOSE_TOKEN_EXPIRED, "token expired; reconnect with a fresh token");
}

/** A socket that is closing cannot be sent to; that must not stop delivery to the others. */
function trySend(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The frame stays in the log; the client resumes with `since`.
  }
}
