/**
 * The frames a test socket has received and not yet looked at, shared by the
 * Workers-pool client (test/worker/helpers.ts) and the Node client
 * (test/node/wsclient.ts). A socket can get deliveries, receipts and replies
 * in any interleaving, so tests wait for the frame they mean (`expect`,
 * `ack`, `error`) and the frames they skip stay unread for later. `next` and
 * `take` are for a socket that receives one stream, in order.
 */

// biome-ignore lint/suspicious/noExplicitAny: tests read any field and check exact shapes with toEqual.
export type Frame = Record<string, any>;

/** A partial frame: every key given must match (nested objects partially, asymmetric matchers such as expect.any() as such). */
export type Pattern = Record<string, unknown> | ((frame: Frame) => boolean);

interface Asymmetric {
  asymmetricMatch(other: unknown): boolean;
}

function matches(value: unknown, pattern: unknown): boolean {
  if (typeof pattern === "object" && pattern !== null && typeof (pattern as Asymmetric).asymmetricMatch === "function") {
    return (pattern as Asymmetric).asymmetricMatch(value);
  }
  if (pattern instanceof RegExp) return typeof value === "string" && pattern.test(value);
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && value.length === pattern.length && pattern.every((p, i) => matches(value[i], p));
  }
  if (typeof pattern === "object" && pattern !== null) {
    if (typeof value !== "object" || value === null) return false;
    return Object.entries(pattern).every(([k, p]) => matches((value as Record<string, unknown>)[k], p));
  }
  return Object.is(value, pattern);
}

export function frameMatches(frame: Frame, pattern: Pattern): boolean {
  return typeof pattern === "function" ? pattern(frame) : matches(frame, pattern);
}

export class FrameQueue {
  /** Every frame received, in arrival order. */
  readonly all: Frame[] = [];
  private unread: Frame[] = [];
  private readonly waiters = new Set<() => void>();
  closed: { code: number; reason: string } | null = null;

  constructor(private readonly name: string) {}

  push(frame: Frame): void {
    this.all.push(frame);
    this.unread.push(frame);
    this.notify();
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
    this.notify();
  }

  get unreadCount(): number {
    return this.unread.length;
  }

  /** The next unread frame, whatever it is. */
  async next(timeoutMs: number): Promise<Frame> {
    await this.until(() => this.unread.length > 0, timeoutMs, "a frame");
    return this.unread.shift()!;
  }

  /** The next `count` unread frames, in order; one deadline for all. */
  async take(count: number, timeoutMs: number): Promise<Frame[]> {
    await this.until(() => this.unread.length >= count, timeoutMs, `${count} frames`);
    return this.unread.splice(0, count);
  }

  /** The first unread frame that matches; the frames before it stay unread. */
  async expect(pattern: Pattern, timeoutMs: number): Promise<Frame> {
    const at = () => this.unread.findIndex((f) => frameMatches(f, pattern));
    await this.until(() => at() >= 0, timeoutMs, describe(pattern));
    return this.unread.splice(at(), 1)[0]!;
  }

  /** The first `count` unread frames that match, in arrival order; the others stay unread. */
  async expectAll(pattern: Pattern, count: number, timeoutMs: number): Promise<Frame[]> {
    const found = () => this.unread.filter((f) => frameMatches(f, pattern)).length >= count;
    await this.until(found, timeoutMs, `${count} × ${describe(pattern)}`);
    const out: Frame[] = [];
    const rest: Frame[] = [];
    for (const f of this.unread) (out.length < count && frameMatches(f, pattern) ? out : rest).push(f);
    this.unread = rest;
    return out;
  }

  /** Unread frames that match, taken out now without waiting. */
  takeMatching(pattern: Pattern): Frame[] {
    const out = this.unread.filter((f) => frameMatches(f, pattern));
    this.unread = this.unread.filter((f) => !frameMatches(f, pattern));
    return out;
  }

  /** Waits until the socket is closed (by either side); returns its code and reason. */
  async closing(timeoutMs: number): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== null, timeoutMs, "the close", true);
    return this.closed!;
  }

  private notify(): void {
    for (const wake of this.waiters) wake();
  }

  private async until(done: () => boolean, timeoutMs: number, what: string, closeIsAnswer = false): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.closed && !closeIsAnswer) {
        throw new Error(`${this.name}: socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.unread.map((f) => JSON.stringify(f).slice(0, 160)).join("\n  ");
        throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms; unread:\n  ${seen || "(none)"}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }
}

function describe(pattern: Pattern): string {
  return typeof pattern === "function" ? "matching frame" : `frame like ${JSON.stringify(pattern)}`;
}
