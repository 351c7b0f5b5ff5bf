/**
 * Where to resume: the `since` for the next connection, and a guard that
 * drops any frame at or below the newest `seq` already seen. Frames on one
 * socket arrive in `seq` order (PROTOCOL.md, Resume and history).
 */
export class ResumeCursor {
  private seen: number;
  /** Null until the client knows a position: the first connection then takes the offline queue. */
  private position: number | null;
  private helloSeq = 0;

  /** `since` as the app stored it, or undefined to start from the server's offline queue. */
  constructor(since?: number) {
    this.seen = since ?? 0;
    this.position = since ?? null;
  }

  /** The `since` for the next connection; undefined means "no since" (the offline queue). */
  get since(): number | undefined {
    return this.position ?? (this.seen > 0 ? this.seen : undefined);
  }

  /** The newest seq this client has handed to the app. */
  get lastSeq(): number {
    return this.seen;
  }

  /** CONNECTION_ID: `seq` is the newest in the log; the backlog that follows ends at or before it. */
  hello(seq: number): void {
    this.helloSeq = seq;
  }

  /**
   * The connection's backlog has fully arrived. Everything up to the hello's
   * seq was either in it or, without `since`, already sent to another of the
   * user's sockets; from here on, resume after that point.
   */
  caughtUp(): void {
    this.position = Math.max(this.seen, this.helloSeq, this.position ?? 0);
  }

  /** Resume after `seq` (the app learned that far from elsewhere, e.g. the conversation list); never backwards. */
  skipTo(seq: number): void {
    this.seen = Math.max(this.seen, seq);
    this.position = Math.max(this.position ?? 0, seq);
  }

  /** True if the frame is new; false for a frame at or before one already seen. */
  accept(seq: number): boolean {
    if (seq <= this.seen) return false;
    this.seen = seq;
    if (this.position !== null) this.position = Math.max(this.position, seq);
    return true;
  }
}
