/**
 * Paces every frame the client writes by the limits the server announced
 * in CONNECTION_ID (PROTOCOL.md, Connecting): a token bucket like the
 * server's own, so a fast typist, a burst of receipts or a long backlog after
 * a reconnect stays under the server's rate instead of being refused.
 *
 * The server's bucket is per user and shared by all the user's sockets, so
 * another tab can still empty it; a refusal then sets this bucket to empty
 * too. The bucket lives as long as the client, across sockets, as the
 * server's does. A server that announces no limits is not paced.
 *
 * The bucket fills at 90% of the announced rate: frames reach the server
 * bunched or spread by the network, and writing at exactly its rate would
 * make every early arrival a refusal.
 */
import type { ConnectionLimits } from "../protocol/frames.ts";

type Timer = ReturnType<typeof setTimeout>;

/** The share of the announced rate the client writes at; the rest absorbs network jitter. */
export const RATE_MARGIN = 0.9;

export class Pacer {
  /** Tokens per millisecond; Infinity until the server announces its limits. */
  private perMs = Number.POSITIVE_INFINITY;
  private burst = Number.POSITIVE_INFINITY;
  private tokens = Number.POSITIVE_INFINITY;
  private at = Date.now();
  /** Frames other than messages (receipts, typing, presence, token refresh), in the order asked; they go before messages. */
  private frames: string[] = [];
  private open = false;
  private timer: Timer | undefined;

  /** Puts a frame on the socket; false if none is open. */
  private readonly write: (text: string) => boolean;
  /** Hands over the next message to write (and counts it as written), or null if none may go now. */
  private readonly nextMessage: () => string | null;

  constructor(write: (text: string) => boolean, nextMessage: () => string | null) {
    this.write = write;
    this.nextMessage = nextMessage;
  }

  /** Whether the server announced a rate to pace by. */
  get paced(): boolean {
    return this.perMs !== Number.POSITIVE_INFINITY;
  }

  /** A socket opened with these limits (absent from a server older than v3). */
  opened(limits: ConnectionLimits | undefined): void {
    if (limits) {
      const first = this.burst === Number.POSITIVE_INFINITY;
      this.refill();
      this.perMs = (limits.ratePerSecond * RATE_MARGIN) / 1000;
      this.burst = limits.rateBurst;
      this.tokens = first ? limits.rateBurst : Math.min(this.tokens, limits.rateBurst);
    } else {
      this.perMs = this.burst = this.tokens = Number.POSITIVE_INFINITY;
    }
    this.open = true;
  }

  /** The socket is gone: frames still waiting are dropped (their owners send them again on the next socket, if at all). */
  closed(): void {
    this.open = false;
    this.frames = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Queues a frame that is not a message; false if no socket is open
   * (nothing is kept for the next one). A `droppable` frame (typing) goes now
   * or never: queued behind the rate it would only say something stale.
   */
  send(text: string, droppable = false): boolean {
    if (!this.open) return false;
    if (droppable) {
      this.refill();
      if (this.tokens < 1 || this.frames.length > 0) return true;
      if (this.write(text)) this.tokens -= 1;
      return true;
    }
    this.frames.push(text);
    this.pump();
    return true;
  }

  /** The server refused a frame for the rate: its bucket is empty, so this one is too. */
  refused(): void {
    this.refill();
    if (this.tokens !== Number.POSITIVE_INFINITY) this.tokens = Math.min(this.tokens, 0);
  }

  /** Writes what the bucket allows now, and comes back when the next token is due. */
  pump(): void {
    if (!this.open) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (;;) {
      this.refill();
      if (this.tokens < 1) {
        // One wake-up per token at most; it finds nothing to do if everything went out.
        this.timer = setTimeout(() => this.pump(), Math.ceil((1 - this.tokens) / this.perMs));
        return;
      }
      const text = this.frames.shift() ?? this.nextMessage();
      if (text === null) return;
      if (!this.write(text)) return;
      this.tokens -= 1;
    }
  }

  private refill(): void {
    const now = Date.now();
    if (this.perMs !== Number.POSITIVE_INFINITY) this.tokens = Math.min(this.burst, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
  }
}
