/**
 * The benchmark's floor worker: a bare per-user Durable Object relay with the
 * server's own auth code (src/auth/token.ts, configured by the same vars), the same
 * connect limiter binding (called on every upgrade, as the server does) and frame shapes
 * (CONNECTION_ID, ACK_MSG to the sender, USER_MSG to the recipient's sockets,
 * RPC between per-user objects, sockets accepted with ctx.acceptWebSocket).
 *
 * It stores nothing: the ack is sent before anything is durable, a message to
 * an offline user waits in memory (lost on eviction), seq is an in-memory
 * counter. It batches as the server does (frames that arrive in one turn are
 * handled together, one call per recipient per burst), so it is the best
 * relay the platform allows, not a weaker design. It is what the runtime costs for the same traffic, so the real
 * server's numbers are read as a ratio to it. Not for any other use.
 *
 * With FLOOR_LOG = "1" (`npm run bench -- --floor-storage=log`) it stores the
 * least the protocol's guarantees allow, for reference: one log row per
 * message at the sender, written before the ack, and one at the recipient,
 * written before the frame goes to a socket (no outbox, no index, no dedupe).
 */
import { DurableObject } from "cloudflare:workers";
import { tokenFrom, verifyToken } from "../../../src/auth/token.ts";
import { connectionLimits, readConfig, type Vars } from "../../../src/config.ts";
import { httpError } from "../../../src/http/errors.ts";
import { connectionIdFrame, errorFrame, isoSecond, receivedAck, userMsgText, withSeq } from "../../../src/protocol/build.ts";
import type { UserContent } from "../../../src/protocol/frames.ts";

interface FloorEnv extends Vars {
  FLOOR: DurableObjectNamespace<FloorUser>;
  FLOOR_GROUPS: DurableObjectNamespace<FloorGroup>;
  FLOOR_SHARDS: DurableObjectNamespace<FloorShard>;
  CONNECT_LIMITER: RateLimit;
  FLOOR_FILES: R2Bucket;
  FLOOR_LOG?: string;
}

const USER_HEADER = "X-Floor-User";
/** Offline messages kept in memory per user; beyond this they are dropped (the benchmark stays below it). */
const MAX_QUEUED = 100_000;

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    if (url.pathname.startsWith("/floor/groups/")) {
      const id = decodeURIComponent(url.pathname.slice("/floor/groups/".length));
      const { members } = (await request.json()) as { members: string[] };
      await env.FLOOR_GROUPS.getByName(id).setMembers(members);
      return Response.json({ id });
    }
    // Files: the same bytes to and from R2 with no token, no access check and no allowance (the `files` scenario).
    if (url.pathname === "/v1/files" && request.method === "POST") {
      const file = crypto.randomUUID();
      await env.FLOOR_FILES.put(file, request.body);
      return Response.json({ file }, { status: 201 });
    }
    if (url.pathname.startsWith("/v1/files/")) {
      const object = await env.FLOOR_FILES.get(url.pathname.slice("/v1/files/".length));
      return object ? new Response(object.body) : httpError(404, "not_found", "no such file");
    }
    if (url.pathname !== "/ws") return httpError(404, "not_found", "connect to /ws");
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return httpError(426, "upgrade_required", "WebSocket only");
    const address = request.headers.get("CF-Connecting-IP") ?? "unknown";
    if (!(await env.CONNECT_LIMITER.limit({ key: address })).success) return httpError(429, "too_many_connections", "slow down");
    const config = readConfig(env);
    if (config.auth.secrets.length === 0 && config.auth.jwksUrl === null)
      return httpError(503, "server_misconfigured", "AUTH_SECRET is not set");
    const auth = await verifyToken(tokenFrom(request, url), config);
    if (!auth.ok) return httpError(auth.status, auth.error, auth.reason);
    const identity = auth.identity;
    const forwarded = new URL(url);
    forwarded.searchParams.delete("Authentication");
    const headers = new Headers(request.headers);
    headers.delete("Authorization");
    headers.set(USER_HEADER, identity);
    return env.FLOOR.getByName(identity).fetch(new Request(forwarded, { headers }));
  },
} satisfies ExportedHandler<FloorEnv>;

interface Attachment {
  user: string;
  connectionId: string;
}

export class FloorUser extends DurableObject<FloorEnv> {
  /** One stub per recipient: calls on one stub arrive in order, so per-pair order holds. */
  private readonly stubs = new Map<string, DurableObjectStub<FloorUser>>();
  private readonly queue: string[] = [];
  private seq = 0;
  /** Frames that arrived since the last turn, handled together as the server's inbox does. */
  private arrivals: { ws: WebSocket; data: string | ArrayBuffer }[] = [];
  private readonly logs: boolean;
  /** Frames owed to other objects: the server's outbox, in memory. */
  private readonly owed = new Batches<string>((to, texts) =>
    to.startsWith("group:") ? this.env.FLOOR_GROUPS.getByName(to).post(this.ctx.id.name!, texts) : this.deliverTo(to, texts),
  );

  constructor(ctx: DurableObjectState, env: FloorEnv) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    this.logs = env.FLOOR_LOG === "1";
    if (this.logs)
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, frame TEXT NOT NULL)");
  }

  /** `--floor-storage=log`: a message is durable in the sender's log before its ack and in the recipient's before a socket sees it. */
  private log(id: string, text: string): void {
    if (this.logs) this.ctx.storage.sql.exec("INSERT INTO log (id, frame) VALUES (?, ?)", id, text);
  }

  override async fetch(request: Request): Promise<Response> {
    const user = request.headers.get(USER_HEADER);
    if (!user) return httpError(400, "bad_request", "not forwarded by the Worker");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    const connectionId = crypto.randomUUID();
    server.serializeAttachment({ user, connectionId } satisfies Attachment);
    server.send(connectionIdFrame(user, connectionId, this.seq, connectionLimits(readConfig(this.env)), Date.now()));
    for (const text of this.queue.splice(0)) server.send(text);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** The same batching as the server: frames arriving in one turn are handled together, one call per recipient. */
  override webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): void {
    if (this.arrivals.push({ ws, data }) === 1) setTimeout(() => this.handleBatch(), 0);
  }

  private handleBatch(): void {
    const batch = this.arrivals;
    this.arrivals = [];
    const recipients = new Set<string>();
    for (const { ws, data } of batch) {
      const to = this.handleFrame(ws, data);
      if (to !== null) recipients.add(to);
    }
    for (const to of recipients) this.ctx.waitUntil(this.owed.flush(to));
  }

  /** Acks one frame and queues it for its recipient; returns the recipient, if it is another object. */
  private handleFrame(ws: WebSocket, data: string | ArrayBuffer): string | null {
    const { user } = ws.deserializeAttachment() as Attachment;
    const now = Date.now();
    let frame: Record<string, unknown> | null = null;
    if (typeof data === "string") {
      try {
        const value: unknown = JSON.parse(data);
        if (typeof value === "object" && value !== null && !Array.isArray(value)) frame = value as Record<string, unknown>;
      } catch {
        // answered below
      }
    }
    const { id, to, type, content, message } = frame ?? {};
    if (type !== "USER_MSG" || typeof id !== "string" || typeof to !== "string" || typeof content !== "string" || message === undefined) {
      ws.send(errorFrame("BAD_MESSAGE", "the floor relays USER_MSG only", undefined, now));
      return null;
    }
    const serverId = crypto.randomUUID();
    const time = isoSecond(now);
    // Re-serialized, not relayed raw: the floor skips the server's one-pass scanner.
    const text = userMsgText(serverId, user, to, time, content as UserContent, JSON.stringify(message));
    this.log(serverId, text);
    ws.send(receivedAck(id, user, time, serverId));
    const copy = withSeq(text, ++this.seq);
    for (const other of this.ctx.getWebSockets()) if (other !== ws) trySend(other, copy);
    if (to === user) return null;
    this.owed.add(to, text);
    return to;
  }

  private async deliverTo(to: string, texts: string[]): Promise<void> {
    const stub = this.stubs.get(to) ?? this.env.FLOOR.getByName(to);
    this.stubs.set(to, stub);
    try {
      await stub.deliver(texts);
    } catch (err) {
      this.stubs.delete(to); // a stub is broken after it throws
      throw err;
    }
  }

  /** RPC from another user's object: push each frame to every socket, or hold it in memory while offline. */
  async deliver(texts: string[]): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    for (const text of texts) {
      this.log(crypto.randomUUID(), text);
      const framed = withSeq(text, ++this.seq);
      if (sockets.length === 0) {
        if (this.queue.length < MAX_QUEUED) this.queue.push(framed);
        continue;
      }
      for (const ws of sockets) trySend(ws, framed);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
    } catch {
      // already closed
    }
  }
}

/**
 * The floor's group: members in memory (set by the benchmark over HTTP), and
 * each burst relayed to every other member's object, batched per member as
 * the server's group does: no log, no order authority, no outbox. Above
 * GROUP_SHARD_SIZE members it fans out through shards as the server's does
 * (the same shape: ceil(members / size) shards, filled in member order,
 * one push per shard per burst, each shard one call per member).
 */
export class FloorGroup extends DurableObject<FloorEnv> {
  private members: string[] = [];
  private shards = 0;
  private readonly owed = new Batches<string>((member, texts) => this.env.FLOOR.getByName(member).deliver(texts));
  private readonly pushes = new Batches<Sent>((shard, sent) => this.env.FLOOR_SHARDS.getByName(shard).push(sent));

  async setMembers(members: string[]): Promise<void> {
    const size = readConfig(this.env).groupShardSize;
    this.members = members;
    this.shards = members.length > size ? Math.ceil(members.length / size) : 0;
    const group = this.ctx.id.name!;
    await Promise.all(
      Array.from({ length: this.shards }, (_, s) =>
        this.env.FLOOR_SHARDS.getByName(`${group}#${s}`).setMembers(members.slice(s * size, (s + 1) * size)),
      ),
    );
  }

  async post(from: string, texts: string[]): Promise<void> {
    if (this.shards > 0) {
      const group = this.ctx.id.name!;
      const names = Array.from({ length: this.shards }, (_, s) => `${group}#${s}`);
      for (const name of names) for (const text of texts) this.pushes.add(name, { from, text });
      await Promise.all(names.map((n) => this.pushes.flush(n)));
      return;
    }
    const members = this.members.filter((m) => m !== from);
    for (const member of members) for (const text of texts) this.owed.add(member, text);
    await Promise.all(members.map((m) => this.owed.flush(m)));
  }
}

/** A frame for the group's members, and who sent it (it does not go back to them). */
interface Sent {
  from: string;
  text: string;
}

/**
 * The floor's shard, addressed `<group>#<n>`: its members in memory, each
 * push relayed to every member but the sender, batched per member (one call
 * in flight per member, what arrives meanwhile in the next).
 */
export class FloorShard extends DurableObject<FloorEnv> {
  private members: string[] = [];
  private readonly owed = new Batches<string>((member, texts) => this.env.FLOOR.getByName(member).deliver(texts));

  setMembers(members: string[]): void {
    this.members = members;
  }

  /** Taken at once and delivered after, as the server's shard answers its group once the batch is stored. */
  push(sent: Sent[]): void {
    for (const member of this.members) for (const { from, text } of sent) if (from !== member) this.owed.add(member, text);
    this.ctx.waitUntil(Promise.all(this.members.map((m) => this.owed.flush(m))));
  }
}

/**
 * Frames owed to other objects, batched as the server's outbox batches them:
 * one call in flight per recipient, and what arrives meanwhile goes in the
 * next call, so a burst costs a few round trips and per-recipient order holds.
 */
class Batches<T> {
  private readonly pending = new Map<string, T[]>();
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(private readonly send: (to: string, texts: T[]) => Promise<void>) {}

  add(to: string, text: T): void {
    const texts = this.pending.get(to);
    if (texts === undefined) this.pending.set(to, [text]);
    else texts.push(text);
  }

  flush(to: string): Promise<void> {
    const running = this.flushing.get(to);
    if (running !== undefined) return running;
    const drain = this.drain(to).finally(() => this.flushing.delete(to));
    this.flushing.set(to, drain);
    return drain;
  }

  private async drain(to: string): Promise<void> {
    for (;;) {
      const texts = this.pending.get(to);
      if (texts === undefined) return;
      this.pending.delete(to);
      await this.send(to, texts);
    }
  }
}

function trySend(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // closing socket: the floor makes no promises
  }
}
