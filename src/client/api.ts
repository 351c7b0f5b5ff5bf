/**
 * The HTTP side of the protocol: one `call` that every /v1 route goes
 * through (the socket's server, the user's token as a bearer header, one
 * retry with a fresh token after a 401, refusals as an ApiError carrying the
 * server's `{ error, reason }`, answers checked for the shape the client
 * relies on), and the conversation routes (PROTOCOL.md, Conversations and
 * history). The group routes are in groups.ts.
 */
import type { GroupEventFrame, MessageNow, NoticeFrame } from "../protocol/frames.ts";
import type { Tokens } from "./tokens.ts";

/** A frame of a conversation's history, as the socket delivered it (with its seq); a message as it is now (edited, deleted, reactions). */
export type LoggedFrame = MessageNow | NoticeFrame | GroupEventFrame;

/** Where the peer has got with one of the user's own direct messages: stored by the server, delivered to a device, read. */
export type MessageStatus = "stored" | "delivered" | "read";

/** A history frame; a message as it is now, and the user's own messages in a direct conversation carry their `status`. */
export type HistoryFrame = (MessageNow & { status?: MessageStatus }) | NoticeFrame | GroupEventFrame;

interface ConversationFields {
  /** The peer's identity (your own for notes to self), a group id, or `system`. */
  id: string;
  /** The seq of the conversation's latest message, notice or group event: the list is ordered by it. */
  lastSeq: number;
  /** The frame at lastSeq; null once retention deleted it (the conversation stays listed). */
  last: LoggedFrame | null;
  /** Incoming messages after readUpTo: an absolute count, as of the response. */
  unread: number;
  /** The seq of the latest message the user reported read (0 until then). */
  readUpTo: number;
  updated: string;
  /** The user's own settings (updateConversation): muted until then (null unless in the future), pinned, archived. */
  mutedUntil: string | null;
  pinned: boolean;
  archived: boolean;
}

export interface DirectConversation extends ConversationFields {
  kind: "direct";
  /** The highest seq (in the user's log) of the user's messages that the peer reported delivered / read. */
  peerDeliveredUpTo: number;
  peerReadUpTo: number;
}

export interface GroupConversation extends ConversationFields {
  kind: "group";
  name: string;
}

export interface SystemConversation extends ConversationFields {
  kind: "system";
}

export type Conversation = DirectConversation | GroupConversation | SystemConversation;

export interface ConversationPage {
  conversations: Conversation[];
  /** Unread over all of the user's conversations, not just this page's. */
  unread: number;
  /** Pass as `before` for the next page; null on the last one. */
  next: string | null;
}

export interface HistoryPage {
  /** Oldest first. */
  messages: HistoryFrame[];
  /** Pass as `before` for the page before this one; null at the start of the retained history. */
  next: number | null;
}

export interface ConversationsQuery {
  /** The `next` of the previous page. */
  before?: string;
  /** 1–200; the server's default is 50. */
  limit?: number;
  /** true: only the archived conversations (which the list otherwise leaves out). */
  archived?: boolean;
}

export interface HistoryQuery {
  /** The `next` of the previous (newer) page: the page ends before this seq. */
  before?: number;
  /** 1–200; the server's default is 50. */
  limit?: number;
}

/** The part of `fetch` the client uses; the global one fits, in browsers and Node 22. */
export type FetchLike = (url: string, init: { method?: string; headers: Record<string, string>; body?: string }) => Promise<Response>;

/** One request to a /v1 route: a JSON body, query parameters (undefined ones left out), extra headers. */
export interface ApiRequest {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The server refused a request: `status`, and its `error` code and `reason` (e.g. 401 `expired_token`). */
export class ApiError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;

  constructor(status: number, error: string, reason: string) {
    super(`${status} ${error}: ${reason}`);
    this.name = "ApiError";
    this.status = status;
    this.error = error;
    this.reason = reason;
  }
}

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks what the client relies on (ids, seqs, counts, cursors); the frames themselves are the server's. */
function isConversationPage(v: unknown): v is ConversationPage {
  return (
    isObject(v) &&
    isCount(v.unread) &&
    (v.next === null || typeof v.next === "string") &&
    Array.isArray(v.conversations) &&
    v.conversations.every((c) => isObject(c) && typeof c.id === "string" && isCount(c.lastSeq) && isCount(c.unread) && isCount(c.readUpTo))
  );
}

function isHistoryPage(v: unknown): v is HistoryPage {
  return (
    isObject(v) &&
    (v.next === null || isCount(v.next)) &&
    Array.isArray(v.messages) &&
    v.messages.every((m) => isObject(m) && typeof m.id === "string" && typeof m.from === "string" && isCount(m.seq))
  );
}

export class Api {
  private readonly base: URL;
  private readonly tokens: Tokens;
  private readonly fetch: FetchLike;

  constructor(base: URL, tokens: Tokens, fetch: FetchLike) {
    this.base = base;
    this.tokens = tokens;
    this.fetch = fetch;
  }

  conversations(query: ConversationsQuery): Promise<ConversationPage> {
    const archived = query.archived ? "true" : undefined;
    return this.call("/v1/conversations", { query: { before: query.before, limit: query.limit, archived } }, isConversationPage);
  }

  history(id: string, query: HistoryQuery): Promise<HistoryPage> {
    const path = `/v1/conversations/${encodeURIComponent(id)}/messages`;
    return this.call(path, { query: { before: query.before, limit: query.limit } }, isHistoryPage);
  }

  /** Delete for me: 204, also when it was already; 404 ApiError when the conversation has no such message. */
  async hide(conversation: string, serverId: string): Promise<void> {
    const path = `/v1/conversations/${encodeURIComponent(conversation)}/messages/${encodeURIComponent(serverId)}`;
    await this.call(path, { method: "DELETE" }, (v): v is undefined => v === undefined);
  }

  /** Calls a /v1 route and returns its answer, once `valid` says it has the expected shape. */
  async call<T>(path: string, request: ApiRequest, valid: (v: unknown) => v is T): Promise<T> {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const method = request.method ?? "GET";
    const { token, reused } = await this.tokens.current();
    let res = await this.send(url, method, request, token);
    // A reused token may have been revoked, or expired by the server's clock: one retry with a fresh one.
    // A 401 is answered before the route runs, so repeating a change is safe.
    if (res.status === 401 && reused) {
      await res.body?.cancel();
      res = await this.send(url, method, request, await this.tokens.fresh());
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const refusal = isObject(body) && typeof body.error === "string" ? body : null;
      throw new ApiError(
        res.status,
        refusal ? String(refusal.error) : `http_${res.status}`,
        refusal && typeof refusal.reason === "string" ? refusal.reason : res.statusText,
      );
    }
    if (!valid(body)) throw new ApiError(res.status, "bad_response", `${method} ${path} answered a body of another shape`);
    return body;
  }

  private send(url: URL, method: string, request: ApiRequest, token: string): Promise<Response> {
    const headers: Record<string, string> = { ...request.headers, Authorization: `Bearer ${token}` };
    if (request.body === undefined) return this.fetch(url.href, method === "GET" ? { headers } : { method, headers });
    headers["Content-Type"] = "application/json";
    return this.fetch(url.href, { method, headers, body: JSON.stringify(request.body) });
  }
}
