/**
 * Test clients that speak to the real Worker (and through it to real Durable
 * Objects) the way an app would: an upgrade request, then frames.
 */
import { exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { expect } from "vitest";

export const SECRET = "test-secret";

export function uniqueUser(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function tokenFor(
  user: string,
  opts: { secret?: string; claims?: Record<string, unknown>; expiresIn?: string | number; notBefore?: string | number } = {},
): Promise<string> {
  const jwt = new SignJWT({ userId: user, ...opts.claims }).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  jwt.setExpirationTime(opts.expiresIn ?? "10h");
  if (opts.notBefore !== undefined) jwt.setNotBefore(opts.notBefore);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

/** A documentation address (RFC 5737), different for each call unless one is given. */
export function randomAddress(): string {
  return `198.51.100.${Math.floor(Math.random() * 254) + 1}`;
}

export function upgrade(query: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`http://edge.test/ws${query}`, {
    headers: { Upgrade: "websocket", "CF-Connecting-IP": randomAddress(), ...headers },
  });
}

// Frames are loosely typed in tests on purpose: tests check exact shapes with toEqual.
// biome-ignore lint/suspicious/noExplicitAny: tests read any field and check exact shapes with toEqual.
export type Frame = Record<string, any>;

export class Client {
  readonly frames: Frame[] = [];
  /** Each text frame as sent on the wire, in arrival order (CONNECTION_ID first). */
  readonly texts: string[] = [];
  private read = 0;
  private waiter: (() => void) | null = null;
  closed: { code: number; reason: string } | null = null;

  private constructor(
    readonly user: string,
    readonly ws: WebSocket,
  ) {
    ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") this.texts.push(e.data);
      this.frames.push(typeof e.data === "string" ? (e.data === "pong" ? { pong: true } : JSON.parse(e.data)) : { binary: true });
      this.waiter?.();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.waiter?.();
    });
  }

  /** Connects and consumes the CONNECTION_ID frame. */
  static async open(user: string, opts: { since?: number } = {}): Promise<{ client: Client; hello: Frame }> {
    const token = await tokenFor(user);
    const res = await upgrade(`?Authentication=${token}${opts.since === undefined ? "" : `&since=${opts.since}`}`);
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const client = new Client(user, ws);
    const hello = await client.next();
    expect(hello.content).toBe("CONNECTION_ID");
    return { client, hello };
  }

  /** Wraps an upgraded socket from a custom request and consumes CONNECTION_ID. */
  static async adopt(user: string, ws: WebSocket): Promise<Client> {
    ws.accept();
    const client = new Client(user, ws);
    expect((await client.next()).content).toBe("CONNECTION_ID");
    return client;
  }

  static async connect(user: string, opts: { since?: number } = {}): Promise<Client> {
    return (await Client.open(user, opts)).client;
  }

  send(frame: Frame | string | ArrayBuffer): void {
    this.ws.send(typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
  }

  /** The next unread frame, waiting for it if needed. */
  async next(timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.frames.length) {
      if (this.closed) throw new Error(`${this.user}: socket closed (${this.closed.code}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.user}: no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    return this.frames[this.read++]!;
  }

  async take(n: number, timeoutMs = 10_000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /**
   * Proves that nothing more arrives: no reply to anything this socket sent
   * (see drain), and no frame from another object within `settleMs`.
   */
  async expectNothingMore(settleMs = 50): Promise<void> {
    await new Promise((r) => setTimeout(r, settleMs));
    expect(await this.drain()).toEqual([]);
  }

  /**
   * Every frame the object sent in answer to what this socket sent so far.
   * A bad frame with a marker id is answered in order after them (a ping
   * would not do: the runtime answers it without queueing behind frames).
   */
  async drain(): Promise<Frame[]> {
    const marker = `drain-${crypto.randomUUID()}`;
    this.send({ id: marker, type: "ACK_MSG", content: "DRAIN" });
    const out: Frame[] = [];
    for (let f = await this.next(); f.message?.ref !== marker; f = await this.next()) out.push(f);
    return out;
  }

  /** Sends a USER_MSG and returns the server's ack. */
  async message(to: string, message: unknown, id: string = crypto.randomUUID()): Promise<Frame> {
    this.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });
    const ack = await this.next();
    expect(ack).toMatchObject({ id, type: "ACK_MSG", content: "MESSAGE_RECEIVED" });
    return ack;
  }

  close(): void {
    this.ws.close(1000, "done");
  }
}

export const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
