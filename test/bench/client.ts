/**
 * Benchmark clients: Node 22's global WebSocket (undici), speaking the wire
 * protocol the way an app would. Tokens are HS256 with the dev secret, signed
 * before any clock starts.
 */
import { DEV_AUTH_SECRET, signToken } from "../../src/auth/devtoken.ts";

/** Frames are read loosely: the benchmark checks only the fields it uses. */
export interface Frame {
  id?: string;
  from?: string;
  to?: string;
  type?: string;
  content?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads payloads it wrote itself.
  message?: any;
  seq?: number;
}

export type FrameHandler = (frame: Frame, now: number) => void;

export function tokensFor(users: readonly string[]): Promise<string[]> {
  return Promise.all(users.map((u) => signToken(DEV_AUTH_SECRET, u)));
}

export class BenchSocket {
  /** Called for every frame after CONNECTION_ID, in arrival order. */
  handler: FrameHandler = () => {};
  /** Resolves with the CONNECTION_ID frame. */
  readonly hello: Promise<Frame>;
  readonly closed: Promise<void>;
  isClosed = false;
  /** ms from `new WebSocket` to CONNECTION_ID. */
  connectMs = NaN;

  readonly user: string;
  readonly ws: WebSocket;

  private constructor(user: string, ws: WebSocket, timeoutMs: number) {
    this.user = user;
    this.ws = ws;
    const started = performance.now();
    let helloSeen = false;
    this.hello = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${user}: no CONNECTION_ID within ${timeoutMs} ms`)), timeoutMs);
      ws.addEventListener("message", (e: MessageEvent) => {
        const now = performance.now();
        if (typeof e.data !== "string" || e.data === "pong") return;
        const frame = JSON.parse(e.data) as Frame;
        if (!helloSeen) {
          helloSeen = true;
          clearTimeout(timer);
          this.connectMs = now - started;
          if (frame.content !== "CONNECTION_ID") reject(new Error(`${user}: first frame was ${e.data.slice(0, 200)}`));
          else resolve(frame);
          return;
        }
        this.handler(frame, now);
      });
      ws.addEventListener("close", (e: CloseEvent) => {
        clearTimeout(timer);
        if (!helloSeen) reject(new Error(`${user}: closed before CONNECTION_ID (${e.code} ${e.reason})`));
      });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        if (!helloSeen) reject(new Error(`${user}: socket error before CONNECTION_ID`));
      });
    });
    this.hello.catch(() => {}); // observed by callers; never an unhandled rejection
    this.closed = new Promise<void>((resolve) =>
      ws.addEventListener("close", () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Opens a socket; `handler` sees every frame after CONNECTION_ID, including a replayed backlog. */
  static open(
    wsUrl: string,
    user: string,
    token: string,
    opts: { since?: number; handler?: FrameHandler; timeoutMs?: number } = {},
  ): BenchSocket {
    const query = `Authentication=${encodeURIComponent(token)}${opts.since === undefined ? "" : `&since=${opts.since}`}`;
    const sock = new BenchSocket(user, new WebSocket(`${wsUrl}/ws?${query}`), opts.timeoutMs ?? 30_000);
    if (opts.handler) sock.handler = opts.handler;
    return sock;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Closes and waits for the close, at most `timeoutMs`. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.isClosed) return;
    try {
      this.ws.close(1000, "bench done");
    } catch {
      // already closing
    }
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, timeoutMs))]);
  }
}

/** Opens sockets with at most `concurrency` handshakes in flight; rejects on the first failure. */
export async function openAll(
  wsUrl: string,
  users: readonly string[],
  tokens: readonly string[],
  opts: { concurrency?: number; timeoutMs?: number } = {},
): Promise<BenchSocket[]> {
  const out: BenchSocket[] = new Array(users.length);
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const i = next++;
      const sock = BenchSocket.open(wsUrl, users[i]!, tokens[i]!, { timeoutMs: opts.timeoutMs });
      out[i] = sock;
      await sock.hello;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, users.length) }, worker));
  return out;
}

export async function closeAll(socks: readonly (BenchSocket | undefined)[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(socks.map((s) => s?.close(Math.max(0, deadline - Date.now()))));
}
