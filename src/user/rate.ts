/**
 * A token bucket per user, shared by the user's sockets. Kept in memory:
 * hibernation only follows idleness, which would have refilled it anyway.
 */
export class RateLimiter {
  private tokens: number;
  private at = Date.now();
  /** Frames refused in a row, per socket: sustained abuse closes the socket. */
  private readonly strikes = new WeakMap<WebSocket, number>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(ws: WebSocket, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes.delete(ws);
      return true;
    }
    this.strikes.set(ws, (this.strikes.get(ws) ?? 0) + 1);
    return false;
  }

  /** True once a socket has kept sending through a whole burst of refusals. */
  abusive(ws: WebSocket): boolean {
    return (this.strikes.get(ws) ?? 0) > this.burst;
  }
}
