/**
 * A WebSocket test client for end-to-end tests against a real `wrangler dev`
 * (see devserver.ts): Node 22's WebSocket (undici), a token from the dev
 * server's `/dev/token`, every frame collected in arrival order, and
 * event-driven waits that always end (a frame, a close, or a timeout).
 */
import { WebSocket } from "node:http";
import { type Frame, FrameQueue, type Pattern } from "../shared/frames.ts";

/** Node's (undici's) WebSocket; the global `WebSocket` type here is the Workers one. */
type NodeWebSocket = InstanceType<typeof WebSocket>;

export type { Frame } from "../shared/frames.ts";

/** What `next()` yields for the runtime's auto-response to the text frame "ping". */
export const PONG: Frame = Object.freeze({ pong: true });

export interface ServerAddress {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
}

export function uniqueUser(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A token from the dev server (DEV_TOKENS=on). */
export async function devToken(server: Pick<ServerAddress, "url">, user: string): Promise<string> {
  const url = `${server.url}/dev/token?user=${encodeURIComponent(user)}`;
  const get = () => fetch(url, { signal: AbortSignal.timeout(10_000) });
  // Node's fetch may reuse a kept-alive socket the dev server has just closed ("other side closed"): once more.
  const res = await get().catch(get);
  if (!res.ok) throw new Error(`GET /dev/token for ${user}: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  return token;
}

/** Polls until `condition` holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ConnectOptions {
  /** Resume after this seq (`&since=`); omitted: the offline queue. */
  since?: number;
  /** A token to use instead of fetching one from /dev/token. */
  token?: string;
  /** ms to wait for the upgrade and the CONNECTION_ID frame. */
  timeoutMs?: number;
}

export class WsClient {
  /** The CONNECTION_ID frame (the first frame after the upgrade). */
  hello: Frame = {};
  readonly queue: FrameQueue;

  private constructor(
    readonly user: string,
    readonly ws: NodeWebSocket,
  ) {
    this.queue = new FrameQueue(user);
    ws.addEventListener("message", (e) => this.queue.push(parse(e.data)));
    ws.addEventListener("close", (e) => this.queue.close(e.code, e.reason));
  }

  /** Every frame received, in order: parsed JSON, `PONG`, or `{ raw }` for anything else. */
  get frames(): Frame[] {
    return this.queue.all;
  }

  get closed(): { code: number; reason: string } | null {
    return this.queue.closed;
  }

  /** Opens `/ws?Authentication=<token>` and consumes the CONNECTION_ID frame into `hello`. */
  static async connect(server: ServerAddress, user: string, opts: ConnectOptions = {}): Promise<WsClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const token = opts.token ?? (await devToken(server, user));
    const since = opts.since === undefined ? "" : `&since=${opts.since}`;
    const ws = new WebSocket(`${server.wsUrl}/ws?Authentication=${encodeURIComponent(token)}${since}`);
    const client = new WsClient(user, ws);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        ws.close();
        reject(new Error(`${user}: WebSocket did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      const onOpen = () => {
        cleanup();
        resolve();
      };
      const onFail = () => {
        cleanup();
        reject(new Error(`${user}: WebSocket upgrade failed (refused, or an HTTP error before the upgrade)`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        ws.removeEventListener("open", onOpen);
        ws.removeEventListener("error", onFail);
        ws.removeEventListener("close", onFail);
      };
      ws.addEventListener("open", onOpen);
      ws.addEventListener("error", onFail);
      ws.addEventListener("close", onFail);
    });
    const hello = await client.next(timeoutMs);
    if (hello.type !== "SYSTEM_MSG" || hello.content !== "CONNECTION_ID") {
      client.ws.close();
      throw new Error(`${user}: expected CONNECTION_ID first, got ${JSON.stringify(hello)}`);
    }
    client.hello = hello;
    return client;
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** A USER_MSG with the client's own id. */
  sendMessage(id: string, to: string, message: unknown, content: "TEXT_MESSAGE" | "FILE_MESSAGE" = "TEXT_MESSAGE"): void {
    this.send({ id, to, type: "USER_MSG", content, message });
  }

  /** A receipt for a message in this user's log. */
  sendReceipt(content: "MESSAGE_DELIVERED" | "MESSAGE_READ", serverId: string): void {
    this.send({ type: "ACK_MSG", content, message: serverId });
  }

  /** Frames received but not yet looked at. */
  get unread(): number {
    return this.queue.unreadCount;
  }

  /** The next unread frame, whatever it is: for a socket that receives one stream. */
  next(timeoutMs = 10_000): Promise<Frame> {
    return this.queue.next(timeoutMs);
  }

  /** The next `count` unread frames, in order. One deadline for all of them. */
  take(count: number, timeoutMs = 10_000): Promise<Frame[]> {
    return this.queue.take(count, timeoutMs);
  }

  /** The first unread frame like `pattern`; frames it skips stay unread. */
  expect(pattern: Pattern, timeoutMs = 10_000): Promise<Frame> {
    return this.queue.expect(pattern, timeoutMs);
  }

  /** The first `count` unread frames like `pattern`, in arrival order. */
  expectAll(pattern: Pattern, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    return this.queue.expectAll(pattern, count, timeoutMs);
  }

  /** Waits for the socket to close; its code and reason. */
  closing(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    return this.queue.closing(timeoutMs);
  }

  /**
   * Sends "ping" and returns every frame that arrived before the "pong". The
   * runtime answers "ping" itself, on the same stream after the frames it had
   * already sent to this socket, so an empty result proves that nothing had
   * been sent to it before the pong. (A delivery still in flight between
   * objects is not covered: order it with a later marker message instead.)
   */
  async drainUntilPong(timeoutMs = 10_000): Promise<Frame[]> {
    this.send("ping");
    const before: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${this.user}: no pong within ${timeoutMs} ms (${before.length} frames before it)`);
      const frame = await this.next(Math.max(1, deadline - Date.now()));
      if (frame === PONG) return before;
      before.push(frame);
    }
  }

  /** Closes the socket and waits (bounded) for the close to complete. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    this.ws.close(1000, "done");
    try {
      await this.closing(timeoutMs);
    } catch {
      // The server did not reciprocate in time; the socket is ours to drop anyway.
    }
  }
}

function parse(data: unknown): Frame {
  if (typeof data !== "string") return { binary: true };
  if (data === "pong") return PONG;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Frame) : { raw: data };
  } catch {
    return { raw: data };
  }
}
