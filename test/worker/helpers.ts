/**
 * Test clients that speak to the real Worker (and through it to real Durable
 * Objects) the way an app would: an upgrade request, then frames.
 */
import { exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { expect } from "vitest";
import type { Envelope } from "../../src/envelope.ts";
import { isoSecond, userMsgText } from "../../src/protocol/build.ts";
import { type Frame, FrameQueue, type Pattern } from "../shared/frames.ts";

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
/** A direct message from `from` to `to` as another user's object hands it to `deliver()`; `raw` is the payload's JSON. */
export function directMessage(from: string, to: string, raw = '"x"'): Envelope {
  const id = crypto.randomUUID();
  return {
    id,
    sender: from,
    recipient: to,
    type: "USER_MSG",
    frame: userMsgText(id, from, to, isoSecond(Date.now()), "TEXT_MESSAGE", raw),
  };
}

export function randomAddress(): string {
  return `198.51.100.${Math.floor(Math.random() * 254) + 1}`;
}

export function upgrade(query: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`http://edge.test/ws${query}`, {
    headers: { Upgrade: "websocket", "CF-Connecting-IP": randomAddress(), ...headers },
  });
}

export type { Frame } from "../shared/frames.ts";

const NEXT_MS = 5000;

/**
 * Asserts an HTTP refusal in the one error shape (a status, a JSON body
 * `{ error, reason }` with a reason for a human, no upgrade); returns the reason.
 */
export async function expectRefused(res: Response, status: number, error: string): Promise<string> {
  const body = (await res.json()) as { error: string; reason: string };
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(res.webSocket).toBeNull();
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(body.reason.length).toBeGreaterThan(0);
  return body.reason;
}

export class Client {
  /** Each text frame as sent on the wire, in arrival order (CONNECTION_ID first). */
  readonly texts: string[] = [];
  readonly queue: FrameQueue;

  private constructor(
    readonly user: string,
    readonly ws: WebSocket,
  ) {
    this.queue = new FrameQueue(user);
    ws.addEventListener("message", (e) => {
      if (typeof e.data === "string") this.texts.push(e.data);
      this.queue.push(typeof e.data === "string" ? (e.data === "pong" ? { pong: true } : JSON.parse(e.data)) : { binary: true });
    });
    ws.addEventListener("close", (e) => this.queue.close(e.code, e.reason));
  }

  /** Every frame received, in arrival order. */
  get frames(): Frame[] {
    return this.queue.all;
  }

  get closed(): { code: number; reason: string } | null {
    return this.queue.closed;
  }

  /** Connects and consumes the CONNECTION_ID frame. */
  static async open(user: string, opts: { since?: number; token?: string } = {}): Promise<{ client: Client; hello: Frame }> {
    const token = opts.token ?? (await tokenFor(user));
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

  static async connect(user: string, opts: { since?: number; token?: string } = {}): Promise<Client> {
    return (await Client.open(user, opts)).client;
  }

  send(frame: Frame | string | ArrayBuffer): void {
    this.ws.send(typeof frame === "string" || frame instanceof ArrayBuffer ? frame : JSON.stringify(frame));
  }

  /** The next unread frame, whatever it is: for a socket that receives one stream. */
  next(timeoutMs = NEXT_MS): Promise<Frame> {
    return this.queue.next(timeoutMs);
  }

  /** The next `n` unread frames, in order: for a socket that receives one stream. */
  take(n: number, timeoutMs = 10_000): Promise<Frame[]> {
    return this.queue.take(n, timeoutMs);
  }

  /** The first unread frame like `pattern`; frames it skips stay unread. */
  expect(pattern: Pattern, timeoutMs = NEXT_MS): Promise<Frame> {
    return this.queue.expect(pattern, timeoutMs);
  }

  /** The first `n` unread frames like `pattern`, in arrival order. */
  expectAll(pattern: Pattern, n: number, timeoutMs = 10_000): Promise<Frame[]> {
    return this.queue.expectAll(pattern, n, timeoutMs);
  }

  /** Every frame received and not yet looked at, taken now. */
  takeUnread(): Frame[] {
    return this.queue.takeMatching(() => true);
  }

  /** The ERROR frame answering the frame with id `ref`. */
  error(ref: string, timeoutMs = NEXT_MS): Promise<Frame> {
    return this.expect({ type: "SYSTEM_MSG", content: "ERROR", message: { ref } }, timeoutMs);
  }

  /** Waits for the socket to close; its code and reason. */
  closing(timeoutMs = NEXT_MS): Promise<{ code: number; reason: string }> {
    return this.queue.closing(timeoutMs);
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
   * Every unread frame up to the answer to a marker frame: the object answers
   * a bad frame in order after everything this socket sent before it (a ping
   * would not do: the runtime answers it without queueing behind frames).
   */
  async drain(): Promise<Frame[]> {
    const marker = `drain-${crypto.randomUUID()}`;
    this.send({ id: marker, type: "ACK_MSG", content: "DRAIN" });
    const out: Frame[] = [];
    for (let f = await this.next(); f.message?.ref !== marker; f = await this.next()) out.push(f);
    return out;
  }

  /** The server's ack for the USER_MSG with client id `id`; an ERROR for it fails the test with its code. */
  async ack(id: string, timeoutMs = NEXT_MS): Promise<Frame> {
    const answer = await this.expect(
      (f) => (f.type === "ACK_MSG" && f.content === "MESSAGE_RECEIVED" && f.id === id) || (f.content === "ERROR" && f.message?.ref === id),
      timeoutMs,
    );
    if (answer.content === "ERROR") throw new Error(`${this.user}: ${id} was refused: ${JSON.stringify(answer.message)}`);
    return answer;
  }

  /** Sends a USER_MSG and returns the server's ack (whatever else arrives meanwhile stays unread). */
  async message(to: string, message: unknown, id: string = crypto.randomUUID()): Promise<Frame> {
    this.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });
    return this.ack(id);
  }

  close(): void {
    this.ws.close(1000, "done");
  }
}

export const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One connected socket per name, each a fresh user (`uniqueUser`). */
export async function users<N extends string[]>(...names: N): Promise<{ [K in keyof N]: Client }> {
  return (await Promise.all(names.map((n) => Client.connect(uniqueUser(n))))) as { [K in keyof N]: Client };
}

/** An HTTP request to the Worker as `user` (Bearer token), with a JSON body if given. */
export async function api(
  user: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const init: RequestInit = { method, headers: { Authorization: `Bearer ${await tokenFor(user)}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  return exports.default.fetch(`http://edge.test${path}`, init);
}

/** The JSON body of a request that must succeed with `status`. */
export async function apiJson(user: string, method: string, path: string, body?: unknown, status = 200): Promise<Frame> {
  const res = await api(user, method, path, body);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${path} as ${user}: expected ${status}, got ${res.status} ${text}`);
  return JSON.parse(text) as Frame;
}

/** Creates a group as `creator` with these other members; returns its id. */
export async function createGroup(creator: string, members: string[], name = "Launch"): Promise<string> {
  return (await apiJson(creator, "POST", "/v1/groups", { name, members }, 201)).id as string;
}
