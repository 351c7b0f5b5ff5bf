/**
 * After a transient refusal (RATE_LIMITED, INTERNAL) the pending messages
 * are resent together after a backoff, not one by one: the server's bucket
 * refills at its own pace, and it dedupes what it already has.
 */
import { type BackoffOptions, backoffDelay } from "./backoff.ts";

/** Errors that say "try again later": the frame was not stored. Any other refusal is final. */
const TRANSIENT: ReadonlySet<string> = new Set(["RATE_LIMITED", "INTERNAL"]);

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}

export class Resend {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;

  private readonly backoff: BackoffOptions;
  /** Writes every pending message to the socket, if one is open. */
  private readonly resendAll: () => void;

  constructor(backoff: BackoffOptions, resendAll: () => void) {
    this.backoff = backoff;
    this.resendAll = resendAll;
  }

  /** A resend is scheduled: a new message now would only be refused too; the resend carries it. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  schedule(): void {
    if (this.timer !== undefined) return;
    // At least baseMs: an instant resend would only be refused again.
    const delay = Math.max(this.backoff.baseMs, backoffDelay(this.attempt++, this.backoff));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resendAll();
    }, delay);
  }

  /** An ack came: the server takes messages again, so the next backoff starts small. */
  progressed(): void {
    this.attempt = 0;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
