/**
 * Keeps one WebSocket to the server open: a fresh token for every attempt,
 * full-jitter backoff between attempts, and ping/pong to notice a socket
 * that is dead but not closed (a phone that changed networks, a sleeping
 * laptop). Knows nothing about frames beyond the runtime's `ping`/`pong`.
 */
import { type BackoffOptions, backoffDelay } from "./backoff.ts";

/** The part of the WebSocket API the client uses; browsers' and Node 22's global WebSocket both fit. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "error", listener: () => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** A token, or a function that fetches a fresh one; it is called for every connection attempt. */
export type TokenSource = string | (() => string | Promise<string>);

export interface HeartbeatOptions {
  /** Time between pings while the socket is healthy. */
  intervalMs: number;
  /** With a ping unanswered, this long without any frame means the socket is dead. */
  timeoutMs: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { intervalMs: 25_000, timeoutMs: 10_000 };

/** The browser's view of the network (`window` with `navigator.onLine`); absent in Node. */
export interface NetworkSignal {
  addEventListener(type: "online" | "offline", listener: () => void): void;
  removeEventListener(type: "online" | "offline", listener: () => void): void;
}

export interface ConnectionHooks {
  /** The URL for one attempt, with this attempt's token (and the client's current `since`). */
  url(token: string): string;
  /** A socket is up, opened with `token`. */
  opened(token: string): void;
  connecting(attempt: number): void;
  /** Every text frame except the runtime's `pong`. */
  text(data: string): void;
  /** The runtime's answer to a ping; the first on each socket comes after the connection's backlog. */
  pong(): void;
  /** The socket is gone (or never came up); the next attempt starts in `retryInMs`. */
  down(attempt: number, retryInMs: number, reason: string): void;
}

export interface ConnectionOptions {
  token: TokenSource;
  WebSocket: WebSocketConstructor;
  backoff: BackoffOptions;
  heartbeat: HeartbeatOptions;
  network: NetworkSignal | null;
}

type Timer = ReturnType<typeof setTimeout>;

/** The server closes a socket whose token expired with this code (PROTOCOL.md, Token expiry and refresh). */
const CLOSE_TOKEN_EXPIRED = 4001;

export class Connection {
  private socket: WebSocketLike | null = null;
  private running = false;
  /** Consecutive failed attempts; reset by the first frame a socket receives. */
  private attempt = 0;
  /** Bumped by every attempt and by stop(): an older attempt's late token or events are ignored. */
  private generation = 0;
  private retryTimer: Timer | undefined;
  private pingTimer: Timer | undefined;
  private deadline: Timer | undefined;

  private readonly options: ConnectionOptions;
  private readonly hooks: ConnectionHooks;

  constructor(options: ConnectionOptions, hooks: ConnectionHooks) {
    this.options = options;
    this.hooks = hooks;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.options.network?.addEventListener("online", this.online);
    this.options.network?.addEventListener("offline", this.offline);
    void this.open();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    this.options.network?.removeEventListener("online", this.online);
    this.options.network?.removeEventListener("offline", this.offline);
    clearTimeout(this.retryTimer);
    this.clearHeartbeat();
    const ws = this.socket;
    this.socket = null;
    ws?.close(1000, "client closed");
  }

  /** Writes a frame if a socket is up; false if not (the caller keeps it for the next connection). */
  send(text: string): boolean {
    if (!this.socket) return false;
    try {
      this.socket.send(text);
      return true;
    } catch {
      // Still CONNECTING or already CLOSING: the frame waits for the next connection.
      return false;
    }
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.hooks.connecting(this.attempt + 1);
    let token: string;
    try {
      const source = this.options.token;
      token = typeof source === "string" ? source : await source();
    } catch (err) {
      if (generation === this.generation) this.retry(`token: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (generation !== this.generation) return;
    let ws: WebSocketLike;
    try {
      ws = new this.options.WebSocket(this.hooks.url(token));
    } catch (err) {
      this.retry(`connect: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.socket = ws;
    // Listeners check `this.socket === ws`: a socket the client has let go of can still fire events.
    ws.addEventListener("open", () => {
      if (this.socket !== ws) return;
      this.hooks.opened(token);
      this.ping();
    });
    ws.addEventListener("message", (event) => {
      if (this.socket !== ws || typeof event.data !== "string") return;
      this.attempt = 0;
      if (this.deadline !== undefined) this.armDeadline();
      if (event.data === "pong") {
        clearTimeout(this.deadline);
        this.deadline = undefined;
        this.pingTimer = setTimeout(() => this.ping(), this.options.heartbeat.intervalMs);
        this.hooks.pong();
      } else {
        this.hooks.text(event.data);
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.socket !== ws) return;
      this.socket = null;
      // The token ran out (4001): a fresh one from the provider fixes that, so there is nothing to wait for.
      if (event.code === CLOSE_TOKEN_EXPIRED) this.attempt = 0;
      this.retry(
        `socket closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`,
        event.code === CLOSE_TOKEN_EXPIRED ? 0 : undefined,
      );
    });
    // Node's WebSocket (undici 6) fires only "error", never "close", when the handshake fails.
    ws.addEventListener("error", () => this.socket === ws && this.abandon("socket error"));
  }

  private ping(): void {
    if (this.send("ping")) this.armDeadline();
  }

  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.abandon("no answer to ping"), this.options.heartbeat.timeoutMs);
  }

  private clearHeartbeat(): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadline);
    this.pingTimer = this.deadline = undefined;
  }

  /** Lets go of the current socket without waiting for its close: a dead network may never deliver one. */
  private abandon(reason: string): void {
    const ws = this.socket;
    if (!ws) return;
    this.socket = null;
    try {
      ws.close(4000, reason);
    } catch {
      // Already closed.
    }
    this.retry(reason);
  }

  private retry(reason: string, delay = backoffDelay(this.attempt, this.options.backoff)): void {
    this.clearHeartbeat();
    if (!this.running) return;
    this.attempt++;
    this.hooks.down(this.attempt, delay, reason);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }

  /** The browser says the network is back: try now instead of sleeping out the backoff. */
  private readonly online = (): void => {
    if (this.socket || !this.running) return;
    clearTimeout(this.retryTimer);
    void this.open();
  };

  private readonly offline = (): void => this.abandon("browser is offline");
}

/** In a browser, `window` tells when the network comes and goes. */
export function browserNetwork(): NetworkSignal | null {
  const g = globalThis as { navigator?: { onLine?: unknown }; addEventListener?: unknown };
  return typeof g.navigator?.onLine === "boolean" && typeof g.addEventListener === "function"
    ? (globalThis as unknown as NetworkSignal)
    : null;
}
