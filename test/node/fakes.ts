/**
 * The server, played by a test: a scripted in-memory WebSocket, a scripted
 * fetch and network, the frames the server sends, and a client wired to
 * them that records everything it reports. Shared by the client's unit tests.
 */

import { afterEach, beforeEach, vi } from "vitest";
import type {
  ConnectionState,
  FetchLike,
  GroupEventFrame,
  PresenceChange,
  Refusal,
  TypingChange,
  UnreadChange,
} from "../../src/client/index.ts";
import { LunarLoomClient } from "../../src/client/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: one handler type for the fake's message and close events.
type Handler = (event: any) => void;

/** A socket the test plays the server for. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | null = null;
  private readonly handlers = new Map<string, Handler[]>();

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static latest(): FakeSocket {
    const ws = FakeSocket.all.at(-1);
    if (!ws) throw new Error("no socket was opened");
    return ws;
  }

  addEventListener(type: string, handler: Handler): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }

  send(data: string): void {
    if (this.closed) throw new Error("socket is closed");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  /** Frames the client sent, parsed, without pings. */
  get frames(): Record<string, unknown>[] {
    return this.sent.filter((s) => s !== "ping").map((s) => JSON.parse(s));
  }

  private fire(type: string, event: object = {}): void {
    for (const h of this.handlers.get(type) ?? []) h(event);
  }

  /** Upgrade done; the server's CONNECTION_ID follows (with `limits`, as a v3 server sends; without, as an older one). */
  accept(seq = 0, user = "me", limits?: { maxMessageBytes: number; ratePerSecond: number; rateBurst: number }): void {
    this.fire("open");
    this.receive({
      id: "h",
      from: "system",
      to: user,
      type: "SYSTEM_MSG",
      time: T,
      content: "CONNECTION_ID",
      message: limits ? { connectionId: "c", user, seq, limits } : { connectionId: "c", user, seq },
    });
  }

  receive(frame: object | string): void {
    this.fire("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  pong(): void {
    this.receive("pong");
  }

  /** The connection is gone (1006: no close frame), or the server closed it with `code`. */
  drop(code = 1006, reason = ""): void {
    this.fire("close", { code, reason });
  }
}

export const T = "2024-01-25T18:07:19Z";
export const G = "group:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

/** Each test starts with no fake sockets, on fake timers. */
export function useFakeServer(): void {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}
export const msg = (seq: number, text = `m${seq}`, from = "rick") => ({
  id: `s${seq}`,
  from,
  to: "me",
  type: "USER_MSG",
  time: T,
  content: "TEXT_MESSAGE",
  message: text,
  seq,
});
export const ack = (clientId: string, serverId: string) => ({
  id: clientId,
  from: "me",
  type: "ACK_MSG",
  time: T,
  content: "MESSAGE_RECEIVED",
  message: serverId,
});
export const receipt = (seq: number, serverId: string, content = "MESSAGE_READ") => ({
  id: `r${seq}`,
  from: "rick",
  to: "me",
  type: "ACK_MSG",
  time: T,
  content,
  message: serverId,
  seq,
});
export const error = (code: string, ref?: string) => ({
  id: "e",
  from: "system",
  type: "SYSTEM_MSG",
  time: T,
  content: "ERROR",
  message: ref === undefined ? { code, reason: "r" } : { code, reason: "r", ref },
});

export const groupEvent = (seq: number, group: string, message: object, from = "rick") => ({
  id: `g${seq}`,
  from,
  to: group,
  type: "SYSTEM_MSG",
  time: T,
  content: "GROUP_EVENT",
  message,
  seq,
});
/** TYPING from `from`; to this user directly unless `to` names a group. */
export const typingFrame = (from: string, typing: boolean, to = "me") => ({
  id: `t-${crypto.randomUUID()}`,
  from,
  to,
  type: "EVENT_MSG",
  time: T,
  content: "TYPING",
  message: typing,
});
export const presenceFrame = (from: string, status: "online" | "offline", lastSeen: string | null = null) => ({
  id: `p-${crypto.randomUUID()}`,
  from,
  to: "me",
  type: "EVENT_MSG",
  time: T,
  content: "PRESENCE",
  message: { status, lastSeen },
});

/** An unsigned JWT-shaped token: the client only reads `exp` (the server verifies). */
export const jwt = (n: number, expInS: number) =>
  `h.${btoa(JSON.stringify({ userId: "me", n, exp: Math.floor(Date.now() / 1000) + expInS })).replace(/=+$/, "")}.s`;

/** The server's HTTP side, played by the test: every request is recorded and answered by `answer`. */
export class FakeHttp {
  readonly requests: {
    url: URL;
    method: string;
    authorization: string | undefined;
    headers: Record<string, string>;
    /** The JSON body, parsed; undefined for none. */
    body: unknown;
  }[] = [];
  answer: (url: URL, authorization: string | undefined) => { status?: number; body: unknown } = () => ({
    status: 404,
    body: { error: "not_found", reason: "the test set no answer" },
  });

  readonly fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    this.requests.push({
      url: u,
      method: init.method ?? "GET",
      authorization: init.headers.Authorization,
      headers: init.headers,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    });
    const { status = 200, body } = this.answer(u, init.headers.Authorization);
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
  };

  /** Path and query of every request, in order. */
  get paths(): string[] {
    return this.requests.map((r) => r.url.pathname + r.url.search);
  }
}

export const conv = (id: string, lastSeq: number, unread: number, readUpTo = 0) => ({
  id,
  kind: "direct",
  lastSeq,
  last: null as ReturnType<typeof msg> | null,
  unread,
  readUpTo,
  peerDeliveredUpTo: 0,
  peerReadUpTo: 0,
  updated: T,
  mutedUntil: null as string | null,
  pinned: false,
  archived: false,
});
export const listing = (conversations: (ReturnType<typeof conv> & { name?: string })[], next: string | null = null, unread?: number) => ({
  conversations,
  unread: unread ?? conversations.reduce((n, c) => n + c.unread, 0),
  next,
});

export class FakeNetwork {
  private readonly handlers = new Map<string, () => void>();
  addEventListener(type: string, h: () => void): void {
    this.handlers.set(type, h);
  }
  removeEventListener(type: string): void {
    this.handlers.delete(type);
  }
  fire(type: "online" | "offline"): void {
    this.handlers.get(type)?.();
  }
}

export function makeClient(opts: Partial<ConstructorParameters<typeof LunarLoomClient>[0]> = {}) {
  const client = new LunarLoomClient({
    url: "https://edge.test",
    token: "tok",
    WebSocket: FakeSocket,
    network: null,
    backoff: { baseMs: 100, capMs: 1000 },
    heartbeat: { intervalMs: 5000, timeoutMs: 2000 },
    ...opts,
  });
  const seen = {
    messages: [] as unknown[],
    acks: [] as unknown[],
    receipts: [] as unknown[],
    errors: [] as unknown[],
    states: [] as ConnectionState[],
    synced: [] as unknown[],
    unread: [] as UnreadChange[],
    groupEvents: [] as GroupEventFrame[],
    refused: [] as Refusal[],
    typing: [] as TypingChange[],
    presence: [] as PresenceChange[],
  };
  client.on("message", (m) => seen.messages.push(m.message));
  client.on("ack", (a) => seen.acks.push(a));
  client.on("receipt", (r) => seen.receipts.push(r.message));
  client.on("error", (e) => seen.errors.push(e.code));
  client.on("state", (s) => seen.states.push(s));
  client.on("synced", (s) => seen.synced.push(s.seq));
  client.on("unread", (u) => seen.unread.push(u));
  client.on("groupEvent", (g) => seen.groupEvents.push(g));
  client.on("refused", (r) => seen.refused.push(r));
  client.on("typing", (t) => seen.typing.push(t));
  client.on("presence", (p) => seen.presence.push(p));
  return { client, seen };
}
