/**
 * LunarLoomClient: a chat client (direct messages and groups) that does not
 * lose or double messages across drops, reconnects, lost acks and offline periods.
 *
 *   send() ─▶ Outbox ─▶ written on every (re)connect until MESSAGE_RECEIVED ─▶ acked resolves
 *   every frame ─▶ Pacer (the server's announced rate) ─▶ socket; a refusal ─▶ resend from it, in order
 *   socket ─▶ ResumeCursor (skip what was seen) ─▶ message / receipt / groupEvent events
 *   reconnect ─▶ /ws?since=<last seq> ─▶ the server replays what this client missed
 *   conversations() / history() ─▶ GET /v1/… with the same token provider ─▶ pages
 *   createGroup() and friends ─▶ /v1/groups/… ─▶ the group as the server has it
 *   list + messages + reads ─▶ UnreadCounts ─▶ unread events for badges
 *   typing() / TYPING frames ─▶ TypingSender / TypingWatch ─▶ typing events (live only)
 *   watchPresence() ─▶ PRESENCE_SUBSCRIBE on every connection ─▶ presence events (live only)
 *   reply() / edit() / react() / deleteForEveryone() ─▶ Outbox (as send()); their frames ─▶ edit / delete / reaction events
 *   block() / report() / updateConversation() ─▶ /v1/blocks, /v1/reports, PATCH /v1/conversations/<id> (safety.ts)
 *   upload() ─▶ POST /v1/files (progress) ─▶ a FILE_MESSAGE naming it, as send(); download() ─▶ GET /v1/files/<id>
 */
import type { ConnectionIdFrame, GroupRole } from "../protocol/frames.ts";
import { Api, type ConversationPage, type ConversationsQuery, type FetchLike, type HistoryPage, type HistoryQuery } from "./api.ts";
import { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.ts";
import { browserNetwork, Connection, DEFAULT_HEARTBEAT, type WebSocketConstructor } from "./connection.ts";
import { ResumeCursor } from "./cursor.ts";
import { Emitter, type Listener } from "./emitter.ts";
import type { ClientEvents, ConnectionState, Refusal, ServerError } from "./events.ts";
import type { FilePayload } from "./file.ts";
import { type FileFetch, type FileRef, Files, type UploadOptions } from "./files.ts";
import { type OutgoingUserMsg, parseServerFrame } from "./frames.ts";
import { type Group, Groups, type NewGroup } from "./groups.ts";
import { changed, type SendOptions } from "./lifecycle.ts";
import type { ClientOptions, ConnectOptions } from "./options.ts";
import { Outbox, type Outgoing } from "./outbox.ts";
import { Pacer } from "./pacer.ts";
import { PresenceWatch } from "./presence.ts";
import { Receipts } from "./receipts.ts";
import { TokenRefresher } from "./refresh.ts";
import { isTransient, Resend } from "./resend.ts";
import { SafetyActions } from "./safety.ts";
import { Tokens } from "./tokens.ts";
import { TypingSender, TypingWatch } from "./typing.ts";
import { UnreadCounts } from "./unread.ts";

/** CONNECTION_ID's body; `limits` is absent from a server before v3. */
type Hello = Omit<ConnectionIdFrame["message"], "limits"> & Partial<Pick<ConnectionIdFrame["message"], "limits">>;

/** The server's default MAX_MESSAGE_BYTES. */
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

export class LunarLoomClient extends SafetyActions {
  private readonly events = new Emitter<ClientEvents>();
  private readonly outbox: Outbox;
  private readonly cursor: ResumeCursor;
  private readonly connection: Connection;
  private readonly refresher: TokenRefresher;
  protected readonly api: Api;
  private readonly unreadCounts: UnreadCounts;
  private readonly groups: Groups;
  private readonly files: Files;
  private readonly typingSender: TypingSender;
  private readonly typingWatch: TypingWatch;
  private readonly presence: PresenceWatch;
  private readonly endpoint: URL;
  private readonly backoff: BackoffOptions;
  private readonly receipts: Receipts;
  private readonly resend: Resend;
  private readonly pacer: Pacer;
  private currentState: ConnectionState = { status: "idle" };
  /** The user, as CONNECTION_ID named them: who "incoming" is relative to. */
  private me: string | null = null;
  private synced = false;

  constructor(options: ClientOptions) {
    super();
    if (!options.url) throw new Error("LunarLoomClient: option 'url' is required");
    if (!options.token) throw new Error("LunarLoomClient: option 'token' is required");
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) throw new Error("LunarLoomClient: no global WebSocket (Node 22+ or a browser); pass option 'WebSocket'");
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
    if (!fetchImpl) throw new Error("LunarLoomClient: no global fetch (Node 22+ or a browser); pass option 'fetch'");
    this.endpoint = new URL("/ws", options.url.replace(/^http/, "ws"));
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.cursor = new ResumeCursor(options.since);
    this.outbox = new Outbox(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    const tokens = new Tokens(options.token);
    this.api = new Api(new URL("/", options.url.replace(/^ws/, "http")), tokens, fetchImpl);
    // The same fetch: uploads call it with a streamed body, which FetchLike leaves out.
    this.files = new Files(new URL("/", options.url.replace(/^ws/, "http")), tokens, fetchImpl as unknown as FileFetch);
    this.unreadCounts = new UnreadCounts({
      me: () => this.me,
      refetch: (limit) => this.api.conversations({ limit }),
      changed: (change) => this.events.emit("unread", change),
    });
    this.groups = new Groups(this.api);
    this.pacer = new Pacer(
      (text) => this.connection.send(text),
      () => (this.resend.waiting ? null : this.outbox.next()),
    );
    const sendNow = (text: string) => this.pacer.send(text);
    this.typingSender = new TypingSender((text) => this.pacer.send(text, true));
    this.typingWatch = new TypingWatch(
      () => this.me,
      (change) => this.events.emit("typing", change),
    );
    this.presence = new PresenceWatch(sendNow, (change) => this.events.emit("presence", change));
    this.receipts = new Receipts(sendNow);
    this.resend = new Resend(this.backoff, () => this.pacer.pump());
    this.refresher = new TokenRefresher(tokens.forSocket, sendNow);
    this.connection = new Connection(
      {
        token: tokens.forSocket,
        WebSocket: WebSocketClass,
        backoff: this.backoff,
        heartbeat: { ...DEFAULT_HEARTBEAT, ...options.heartbeat },
        network: options.network === undefined ? browserNetwork() : options.network,
      },
      {
        url: (token) => this.url(token),
        opened: (token) => this.refresher.opened(token),
        connecting: (attempt) => this.setState({ status: "connecting", attempt }),
        text: (data) => this.onText(data),
        pong: () => this.onPong(),
        down: (attempt, retryInMs, reason) => {
          this.refresher.stop();
          this.pacer.closed();
          this.setState({ status: "offline", attempt, retryInMs, reason });
        },
      },
    );
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The newest `seq` handed to the app: store it and pass it back as `since` to resume after a restart. */
  get lastSeq(): number {
    return this.cursor.lastSeq;
  }

  /** Messages sent but not yet acknowledged by the server. */
  get pendingCount(): number {
    return this.outbox.size;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  /** Starts connecting, and keeps reconnecting until close(). */
  connect(options: ConnectOptions = {}): void {
    if (options.since !== undefined) this.cursor.skipTo(options.since);
    this.connection.start();
  }

  /** Disconnects and stops reconnecting. Unacknowledged sends stay in the outbox for a later connect(). */
  close(): void {
    this.typingSender.clear();
    this.typingWatch.stop();
    this.unreadCounts.stop();
    this.refresher.stop();
    this.connection.stop();
    this.pacer.closed();
    this.resend.stop();
    this.setState({ status: "closed" });
  }

  /**
   * Sends a message to a user or a group (`to` = the group's id); it goes out
   * now if connected, otherwise on the next connection, and is resent on every
   * connection until the server acks it, paced by the server's rate and in
   * the order sent. Ends the user's typing in that conversation.
   */
  send(to: string, message: unknown, options: SendOptions = {}): Outgoing {
    const frame: OutgoingUserMsg = {
      id: options.id ?? crypto.randomUUID(),
      to,
      type: "USER_MSG",
      content: options.content ?? "TEXT_MESSAGE",
      message,
    };
    if (options.replyTo !== undefined) frame.replyTo = options.replyTo;
    return this.queue(frame);
  }

  protected queue(frame: OutgoingUserMsg): Outgoing {
    const { to } = frame;
    const { outgoing, text } = this.outbox.add(frame);
    if (text !== null) this.pacer.pump();
    // A message ends the user's typing there; an edit or a reaction says nothing about it.
    if (frame.ref === undefined) this.typingSender.stop(to);
    return outgoing;
  }

  /** A FILE_MESSAGE; make the payload with `filePayload(blob, name)`. */
  sendFile(to: string, file: FilePayload, options: Omit<SendOptions, "content"> = {}): Outgoing {
    return this.send(to, file, { ...options, content: "FILE_MESSAGE" });
  }

  /**
   * Uploads a file (any size up to the server's MAX_FILE_BYTES) into a conversation, then sends the
   * FILE_MESSAGE that names it. Rejects with an ApiError when the server refuses the upload (413, 429, 404).
   */
  async upload(file: Blob, conversation: string, options: UploadOptions = {}): Promise<{ ref: FileRef; message: Outgoing }> {
    const { file: id, name, type, size } = await this.files.upload(file, conversation, options);
    const ref: FileRef = { file: id, name, type, size };
    return { ref, message: this.send(conversation, ref, { content: "FILE_MESSAGE" }) };
  }

  /** A file's bytes (a FILE_MESSAGE's `message.file`), for the uploader, the direct peer or a group member. */
  download(fileId: string): Promise<Blob> {
    return this.files.download(fileId);
  }

  /** Tells the sender the message reached this device. `serverId` is the message frame's `id`. */
  markDelivered(serverId: string): void {
    this.receipts.ask("MESSAGE_DELIVERED", serverId);
  }

  /** Tells the sender the user has seen the message; the server moves the conversation's readUpTo to it. */
  markRead(serverId: string): void {
    this.receipts.ask("MESSAGE_READ", serverId);
    this.unreadCounts.read(serverId);
  }

  /**
   * A page of the user's conversations, latest activity first
   * (GET /v1/conversations). Rejects with an ApiError for the server's refusals.
   */
  async conversations(query: ConversationsQuery = {}): Promise<ConversationPage> {
    const page = await this.api.conversations(query);
    // The archive's page lists only archived conversations: the unread counts follow the main list.
    if (!query.archived) this.unreadCounts.listed(page, query);
    return page;
  }

  /**
   * A page of one conversation's history, oldest first; pass its `next` as
   * `before` for the page before (GET /v1/conversations/<id>/messages).
   */
  async history(conversation: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const page = await this.api.history(conversation, query);
    this.unreadCounts.learned(conversation, page.messages);
    return page;
  }

  /**
   * Creates a group (POST /v1/groups) with the user as its admin. Members
   * hear of it through their socket, this user too: a `created` groupEvent.
   */
  createGroup(group: NewGroup): Promise<Group> {
    return this.groups.create(group);
  }

  /** A group the user is a member of, with every member's role and receipt watermarks; 404 ApiError for anyone else. */
  getGroup(id: string): Promise<Group> {
    return this.groups.get(id);
  }

  /** Admins only (403 ApiError otherwise), like every change to another member. */
  renameGroup(id: string, name: string): Promise<Group> {
    return this.groups.rename(id, name);
  }

  /** 409 ApiError `already_member` or `group_full`. */
  addMember(id: string, user: string, role: GroupRole = "member"): Promise<Group> {
    return this.groups.addMember(id, user, role);
  }

  setRole(id: string, user: string, role: GroupRole): Promise<Group> {
    return this.groups.setRole(id, user, role);
  }

  /** The removed member's last frame of the group is their `member_removed` groupEvent. */
  removeMember(id: string, user: string): Promise<Group> {
    return this.groups.removeMember(id, user);
  }

  /** Leaves a group (removes the user themself). The client learns who the user is from its first connection. */
  leaveGroup(id: string): Promise<Group> {
    if (this.me === null) return Promise.reject(new Error("leaveGroup: the user is not known until the client has connected once"));
    return this.groups.removeMember(id, this.me);
  }

  /**
   * Says the user is typing in conversation `to` (a user or a group), or has
   * stopped. While typing, `true` is repeated every 3 s; `typing(to, false)`
   * or a send to `to` stops it with one `false`, and leaving the group (or
   * being removed) stops it without one. Call it on every keystroke:
   * only the first `true` of a spell goes out at once. Never queued: while
   * offline, or with the send rate used up, nothing is sent (the repeat or
   * the message says it later).
   */
  typing(to: string, typing: boolean): void {
    if (typing) this.typingSender.start(to);
    else this.typingSender.stop(to);
  }

  /**
   * Watches these users' presence (at most 100; a new list replaces the old):
   * sent now if connected and again on every connection, answered by
   * `presence` events. The server leaves out, without a word, users the user
   * shares no conversation with; watch again once one exists.
   */
  watchPresence(users: Iterable<string>): void {
    this.presence.watch(users);
  }

  /** The server's id for a message this client sent, once acked. */
  serverId(clientId: string): string | undefined {
    return this.outbox.serverId(clientId);
  }

  // ---- internals ---------------------------------------------------------------

  private url(token: string): string {
    const url = new URL(this.endpoint);
    url.searchParams.set("Authentication", token);
    const since = this.cursor.since;
    if (since !== undefined) url.searchParams.set("since", String(since));
    return url.href;
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
    this.events.emit("state", state);
  }

  private onText(data: string): void {
    const frame = parseServerFrame(data);
    if (!frame) return;
    switch (frame.content) {
      case "CONNECTION_ID":
        this.onHello(frame.message);
        return;
      case "TEXT_MESSAGE":
      case "FILE_MESSAGE":
        if (!this.cursor.accept(frame.seq)) return;
        this.events.emit("message", frame);
        this.unreadCounts.incoming(frame);
        this.typingWatch.message(frame);
        return;
      case "MESSAGE_RECEIVED": {
        const ack = this.outbox.ack({ clientId: frame.id, serverId: frame.message, time: frame.time });
        if (ack) {
          this.resend.progressed();
          this.events.emit("ack", ack);
          // An ack of a message that was to be refused (after INTERNAL, which holds nothing back) can free the rest.
          this.pacer.pump();
        }
        return;
      }
      case "MESSAGE_DELIVERED":
      case "MESSAGE_READ":
        // A group receipt is live only (no seq): nothing to resume.
        if (frame.seq !== undefined && !this.cursor.accept(frame.seq)) return;
        this.events.emit("receipt", frame);
        // The user read something on another tab or device.
        if (frame.content === "MESSAGE_READ" && frame.from === this.me) this.unreadCounts.read(frame.message);
        return;
      case "GROUP_EVENT": {
        if (!this.cursor.accept(frame.seq)) return;
        const { event, user } = frame.message;
        if ((event === "member_removed" || event === "member_left") && user === this.me) this.typingSender.drop(frame.to);
        this.events.emit("groupEvent", frame);
        return;
      }
      case "NOTICE":
        if (!this.cursor.accept(frame.seq)) return;
        this.events.emit("notice", frame);
        return;
      case "MESSAGE_EDIT":
      case "MESSAGE_DELETE":
      case "REACTION":
      case "SETTINGS_CHANGED":
        if (this.cursor.accept(frame.seq)) changed(frame, this.events, this.unreadCounts, this.me);
        return;
      case "TOKEN_REFRESHED":
        this.refresher.refreshed(frame.id);
        return;
      case "ERROR":
        // A logged error (a late group refusal) is replayed like any logged frame: handed over once.
        if (frame.seq !== undefined && !this.cursor.accept(frame.seq)) return;
        this.onError(frame.message);
        return;
      case "TYPING":
        this.typingWatch.frame(frame);
        return;
      case "PRESENCE":
        this.presence.frame(frame);
        return;
    }
  }

  private onHello(hello: Hello): void {
    this.cursor.hello(hello.seq);
    this.me = hello.user;
    this.synced = false;
    // A server older than v3 announces no limits.
    if (hello.limits) this.outbox.limit(hello.limits.maxMessageBytes);
    this.outbox.opened();
    this.resend.stop();
    this.pacer.opened(hello.limits);
    this.setState({ status: "open", user: hello.user, connectionId: hello.connectionId });
    this.presence.opened();
    this.receipts.opened();
    // Pipelined in send order; the server acks in that order and dedupes what it already has.
    this.pacer.pump();
  }

  private onPong(): void {
    if (this.synced) return;
    this.synced = true;
    this.cursor.caughtUp();
    this.events.emit("synced", { seq: this.cursor.since ?? 0 });
  }

  private onError(error: ServerError): void {
    this.events.emit("error", error);
    // A refused refresh is retried by the refresher; it says nothing about pending messages.
    if (error.code === "BAD_TOKEN" && error.ref !== undefined && this.refresher.refused(error.ref)) return;
    if (error.id !== undefined) {
      this.onRefused({ clientId: error.ref, serverId: error.id, code: error.code, reason: error.reason });
      return;
    }
    if (error.code === "RATE_LIMITED") this.pacer.refused();
    // Typing is never resent, so not even a transient refusal of it concerns the outbox.
    if (error.ref !== undefined && this.typingSender.refused(error.ref)) return;
    if (isTransient(error.code)) {
      // Written again from the refused message, once the refusals of those written after it are in.
      if (error.ref !== undefined && this.outbox.refused(error.ref) === "first")
        this.resend.schedule(this.pacer.paced ? 0 : this.backoff.baseMs);
      this.pacer.pump();
    } else if (error.ref !== undefined) {
      this.outbox.fail(error.ref, error.code, error.reason);
    }
  }

  /**
   * Usually long after the ack. After a reconnect the replayed refusal can
   * come first, while the resend waits for its ack: then `acked` rejects.
   */
  private onRefused(refusal: Refusal): void {
    if (refusal.clientId !== undefined) this.outbox.fail(refusal.clientId, refusal.code, refusal.reason, refusal.serverId);
    this.events.emit("refused", refusal);
  }
}
