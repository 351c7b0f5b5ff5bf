/**
 * The user's open sockets (hibernatable: the runtime keeps them while the
 * object sleeps). Each carries an attachment with who it is and when its
 * token expires; nothing else about a socket is kept anywhere.
 *
 * Every frame handed to a socket goes through `hand`, which is where token
 * expiry is enforced: an expired socket is closed with 4001 instead of being
 * sent the frame (PROTOCOL.md, Token expiry and refresh).
 */
/** What a socket carries through hibernation. Small (attachments must stay under 2 KiB), and never the token. */
export interface Attachment {
  user: string;
  connectionId: string;
  /** When this server stops accepting the socket's token (ms): its `exp` plus the leeway; null if it has none. */
  expiresAt: number | null;
  connectedAt: number;
  /** Set while the socket's messages are held back after a rate refusal: the refused client id (see holdback.ts). */
  heldFor?: string;
}

/** Application close codes (4000-4999 are free for applications). */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const CLOSE_TOO_MANY_SOCKETS = 4008;
/** The server API disconnected (or erased) the user. */
export const CLOSE_SERVER_DISCONNECT = 4003;
/** 1008 is the standard "policy violation". */
export const CLOSE_RATE_ABUSE = 1008;

export class Sockets {
  /** Attachments as last read or written: deserializing one per frame is work a cache saves. */
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  /** Sockets the server closed: in memory, as their waiting frames are (a hibernated object has none waiting). */
  private readonly refused = new WeakSet<WebSocket>();

  constructor(private readonly ctx: DurableObjectState) {}

  accept(ws: WebSocket, attachment: Attachment): void {
    this.ctx.acceptWebSocket(ws);
    this.setAttachment(ws, attachment);
  }

  all(): WebSocket[] {
    return this.ctx.getWebSockets();
  }

  attachment(ws: WebSocket): Attachment {
    let a = this.attachments.get(ws);
    if (!a) {
      a = ws.deserializeAttachment() as Attachment;
      this.attachments.set(ws, a);
    }
    return a;
  }

  setAttachment(ws: WebSocket, attachment: Attachment): void {
    ws.serializeAttachment(attachment);
    this.attachments.set(ws, attachment);
  }

  /** True if the socket's token has expired; the socket is then closed with 4001. */
  expired(ws: WebSocket, now: number): boolean {
    const { expiresAt } = this.attachment(ws);
    if (expiresAt === null || now < expiresAt) return false;
    this.close(ws, CLOSE_TOKEN_EXPIRED, "token expired; reconnect with a fresh token");
    return true;
  }

  /**
   * Hands a frame to a socket, unless its token has expired (then it is
   * closed instead). Returns whether the socket took it: a frame handed to a
   * socket that is already closing counts as sent (the client resumes with
   * `since`), one refused for expiry does not.
   */
  hand(ws: WebSocket, text: string, now: number): boolean {
    if (this.expired(ws, now)) return false;
    try {
      ws.send(text);
    } catch {
      // Closing: the frame stays in the log, and the client resumes with `since`.
    }
    return true;
  }

  /** The sockets whose tokens are still valid (closing ones included, see `hand`); the expired ones are closed. */
  live(now: number, except?: WebSocket): WebSocket[] {
    return this.all().filter((ws) => ws !== except && !this.expired(ws, now));
  }

  /** Hands a frame to every live socket but `except`. */
  broadcast(text: string, now: number, except?: WebSocket): void {
    for (const ws of this.live(now, except)) this.hand(ws, text, now);
  }

  /**
   * The server closes a socket (expiry, abuse, too many, the server API):
   * frames it sent that are still waiting to be handled are not served.
   */
  close(ws: WebSocket, code: number, reason: string): void {
    this.refused.add(ws);
    closeQuietly(ws, code, reason);
  }

  /** The client closed: answer its close. What it sent before closing is still handled. */
  reciprocate(ws: WebSocket, code: number, reason: string): void {
    // 1005/1006/1015 describe a close and cannot be sent.
    closeQuietly(ws, code === 1005 || code === 1006 || code === 1015 ? 1000 : code, reason);
  }

  /** Whether the server closed this socket: its waiting frames are not served. */
  closedByServer(ws: WebSocket): boolean {
    return this.refused.has(ws);
  }
}

/** Close reasons over 123 bytes throw; ours are short. A socket already closing is fine. */
function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closing
  }
}
