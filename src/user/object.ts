/**
 * One Durable Object per user: it holds the user's sockets (hibernatable),
 * the user's log, and the outbox of frames owed to other objects.
 *
 *   socket ─▶ webSocketMessage ─▶ inbox (one turn, one commit per batch) ─▶ send / receipt / refresh
 *               send ─▶ log + outbox ─▶ ACK (after the commit) ─▶ flush ─RPC─▶ deliver() on the recipient
 *
 * The class only wires the runtime's entry points to the capability modules
 * beside it. Nothing that matters lives in fields: hibernation erases them.
 * The socket attachment holds who the socket is; SQLite holds everything
 * else; the fields are caches and in-flight bookkeeping that are safe to lose.
 */
import { DurableObject } from "cloudflare:workers";
import { Alarm } from "../alarm.ts";
import { readConfig } from "../config.ts";
import { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { isoSecond } from "../protocol/build.ts";
import { isGroupId, type PresenceStatus, type SendFrame } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import { SAFETY_NET_MS, withOneRetry } from "../retry.ts";
import { disconnect, erase, groupsOf, notice } from "./admin.ts";
import { Blocks, block, unblock } from "./blocks.ts";
import { connect } from "./connect.ts";
import type { User } from "./context.ts";
import { Conversations } from "./conversations.ts";
import { deliver, live } from "./deliver.ts";
import { type Evidence, evidence } from "./evidence.ts";
import * as files from "./files.ts";
import { refused } from "./groups.ts";
import { hide } from "./hide.ts";
import { Inbox } from "./inbox.ts";
import { UserLog } from "./log.ts";
import { Outbox } from "./outbox.ts";
import { type ConversationPatch, updateConversation } from "./preferences.ts";
import { announce, changed, forgetSocket, openSockets, watch, wentOffline } from "./presence.ts";
import { RateLimiter } from "./rate.ts";
import { pruneReceipts } from "./receipts.ts";
import { MIGRATIONS } from "./schema.ts";
import { send } from "./send.ts";
import { Sockets } from "./sockets.ts";
import { deletedAt } from "./state.ts";

/** A server API call's answer: a value, or a refusal in the HTTP error shape. */
export type AdminAnswer<T> = { ok: true; value: T } | { ok: false; status: 400 | 403 | 404; error: string; reason: string };

export class UserObject extends DurableObject<Env> {
  private readonly user: User;
  private readonly inbox: Inbox;
  private readonly departed = new WeakSet<WebSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const me = ctx.id.name;
    if (me === undefined) throw new Error("UserObject must be addressed by name (getByName(identity))");
    const config = readConfig(env);
    const db = new Db(ctx.storage, me, MIGRATIONS);
    const conversations = new Conversations(db, me);
    const alarm = new Alarm(ctx.storage);
    const transport = async (recipient: string, envelopes: Envelope[]): Promise<void> => {
      // Direct frames carry no gseq, so a user's object always takes them whole.
      if (!isGroupId(recipient)) return void (await withOneRetry(() => env.USERS.getByName(recipient).deliver(envelopes)));
      refused(this.user, await withOneRetry(() => env.GROUPS.getByName(recipient).post(envelopes)), Date.now());
    };
    this.user = {
      me,
      ctx,
      env,
      config,
      db,
      log: new UserLog(db, me, conversations),
      conversations,
      blocks: new Blocks(db),
      sockets: new Sockets(ctx),
      outbox: new Outbox(db, alarm, transport),
      alarm,
    };
    this.inbox = new Inbox(this.user, new RateLimiter(config.rateLimitPerSecond, config.rateLimitBurst));
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** The Worker forwards an authenticated upgrade here. */
  override async fetch(request: Request): Promise<Response> {
    return connect(this.user, request);
  }

  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    this.inbox.push(ws, data);
  }

  /** RPC from another object: frames for this user's log and sockets. False: a group frame must wait for an earlier one; send the rest again later. */
  async deliver(envelopes: Envelope[]): Promise<boolean> {
    const now = Date.now();
    await this.user.alarm.wakeBy(now + this.user.config.retentionMs);
    return deliver(this.user, envelopes, now);
  }

  /** RPC: frames for the sockets open now, not stored (a group's receipts, ephemeral events); `from` for a user's direct ones. */
  live(frames: string[], from?: string): void {
    live(this.user, frames, from, Date.now());
  }

  /** GET /v1/conversations, for this user: the response body. */
  conversations(before: number | null, limit: number, archived = false): string {
    return this.user.conversations.list(before, limit, archived, Date.now());
  }

  /** PATCH /v1/conversations/<id>, for this user: the conversation as listed, or null if there is no such conversation. */
  updateConversation(id: string, patch: ConversationPatch): string | null {
    return this.user.db.exists ? this.user.db.atomically(() => updateConversation(this.user, id, patch, Date.now())) : null;
  }

  /** GET /v1/conversations/<id>/messages, for this user: the response body. */
  history(conversation: string, before: number | null, limit: number): string {
    return this.user.conversations.history(conversation, before, limit);
  }

  /** DELETE /v1/conversations/<id>/messages/<server id>, for this user: false if there is no such message there. */
  hide(conversation: string, id: string): boolean {
    return this.user.db.exists && this.user.db.atomically(() => hide(this.user, conversation, id, Date.now()));
  }

  /** PUT /v1/blocks/<user>, for this user. */
  block(user: string): void {
    this.user.db.atomically(() => block(this.user, user, Date.now()));
  }

  /** DELETE /v1/blocks/<user>, for this user. */
  unblock(user: string): void {
    this.user.db.atomically(() => unblock(this.user, user, Date.now()));
  }

  /** GET /v1/blocks, for this user. */
  blocked(): { user: string; since: string }[] {
    return this.user.blocks.list();
  }

  /** POST /v1/reports, by this user: the evidence from this user's log, or the refusal naming the field. */
  evidence(conversation: string, messages: string[], user: string | null): Evidence {
    return evidence(this.user, conversation, messages, user);
  }

  /** RPC from the group routes: whether this user blocks `user` (who then cannot add them to a group). */
  blocks(user: string): boolean {
    return this.user.blocks.has(user);
  }

  /** RPC from the webhook consumer: whether a message this user holds was deleted for everyone (its payload must not go out). */
  deletedForEveryone(id: string): boolean {
    return deletedAt(this.user, id) !== null;
  }

  // ---- files (src/http/files.ts) -------------------------------------------------

  /** Before an upload's bytes go to R2: the UTC day charged, or null when today's allowance is used up. */
  reserveFile(upload: files.Upload): number | null {
    return this.user.db.atomically(() => files.reserve(this.user, upload, Date.now()));
  }

  /** An upload that did not complete: no file, no charge. */
  releaseFile(id: string, day: number): void {
    this.user.db.atomically(() => files.release(this.user, id, day));
  }

  /** The uploader deleted the file from R2. */
  forgetFile(id: string): void {
    files.forget(this.user, id);
  }

  // ---- the server API (src/http/admin.ts) ----------------------------------------

  /** A message sent as this user, with every guarantee of a socket send; no socket gets an ack. */
  sendAs(frame: SendFrame): AdminAnswer<{ id: string; time: string }> {
    const now = Date.now();
    try {
      const sent = this.user.db.atomically(() => send(this.user, frame, now));
      if (sent.flush !== null) {
        this.user.outbox.guard(now);
        this.ctx.waitUntil(this.user.outbox.flush(sent.flush, now));
      }
      return { ok: true, value: { id: sent.serverId, time: isoSecond(sent.time) } };
    } catch (err) {
      if (err instanceof ProtocolError) return { ok: false, status: 403, error: "forbidden", reason: err.message };
      throw err;
    }
  }

  /** A notice from the system to this user; the same key twice is one notice. */
  notice(key: string, rawMessage: string): { id: string; time: string } {
    return this.user.db.atomically(() => notice(this.user, key, rawMessage, Date.now()));
  }

  /** Closes this user's sockets (4003); with `until`, refuses new ones until then. */
  disconnect(until: number | null, reason: string): number {
    return disconnect(this.user, until, reason);
  }

  /** Erases this user: leaves every group (the others get member_left), closes the sockets, deletes everything. */
  async erase(): Promise<void> {
    for (const group of groupsOf(this.user)) {
      await withOneRetry(async () => {
        await this.env.GROUPS.getByName(group).forgetMember(this.user.me);
      });
    }
    await files.removeAll(this.user);
    await erase(this.user);
  }

  /** Outbox retries and retention; nothing else needs a timer. */
  override async alarm(): Promise<void> {
    const u = this.user;
    u.alarm.fired();
    const now = Date.now();
    await Promise.all(u.outbox.recipients().map((r) => u.outbox.flush(r, now)));
    // What those flushes (or one already running) delivered goes now, so the safety net below is armed for nothing else.
    u.outbox.sweep();
    const cutoff = now - u.config.retentionMs;
    const oldest = Math.min(
      u.log.prune(cutoff) ?? Infinity,
      pruneReceipts(u, cutoff) ?? Infinity,
      (await files.sweep(u, cutoff)) ?? Infinity,
    );
    const next = Math.min(oldest + u.config.retentionMs, u.outbox.due(Date.now() + SAFETY_NET_MS) ?? Infinity);
    if (next !== Infinity) await u.alarm.wakeBy(next);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.user.sockets.reciprocate(ws, code, reason);
    this.gone(ws);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const { user, connectionId } = this.user.sockets.attachment(ws);
    logEvent("warn", "socket_error", { user, connectionId, error: errorMessage(error) });
    this.gone(ws);
  }

  // ---- presence ------------------------------------------------------------------

  /** RPC from a watcher (PRESENCE_SUBSCRIBE): this user's status if the two share a conversation, else null. */
  watch(watcher: string, watcherGroups: string[], watcherTalksWithMe: boolean): PresenceStatus | null {
    return watch(this.user, watcher, watcherGroups, watcherTalksWithMe, Date.now());
  }

  /** RPC from a watched user: its status changed. False if none of this user's sockets watches it any more. */
  presenceChanged(of: string, status: PresenceStatus): boolean {
    return changed(this.user, of, status, Date.now());
  }

  /** A socket is gone: it watches nobody; if it was the last open one, the user went offline. */
  private gone(ws: WebSocket): void {
    // An error and a close can both report the same socket.
    if (this.departed.has(ws)) return;
    this.departed.add(ws);
    const u = this.user;
    const { connectionId, connectedAt } = u.sockets.attachment(ws);
    forgetSocket(u, connectionId);
    if (openSockets(u, ws) > 0) return;
    const now = Date.now();
    const next = wentOffline(u, connectedAt, now);
    if (next) announce(u, next, now);
  }
}
