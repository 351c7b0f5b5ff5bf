/**
 * After a transient refusal (RATE_LIMITED, INTERNAL) the outbox writes
 * again from the refused message. The first refusal costs no more than the
 * pacer's wait for a token; refusals that keep coming with no ack between
 * them (another tab emptying the shared bucket, a server in trouble) wait
 * longer each time, with jitter.
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
  /** Lets the outbox write again. */
  private readonly resume: () => void;

  constructor(backoff: BackoffOptions, resume: () => void) {
    this.backoff = backoff;
    this.resume = resume;
  }

  /** Waiting before writing messages again. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  /** A message was refused; `minMs` is the least wait (a server that announced no rate is not paced, so it waits the base backoff). */
  schedule(minMs: number): void {
    if (this.timer !== undefined) return;
    const attempt = this.attempt++;
    const delay = Math.max(minMs, attempt === 0 ? 0 : backoffDelay(attempt - 1, this.backoff));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resume();
    }, delay);
  }

  /** An ack came: the server takes messages again, so the next refusal starts from scratch. */
  progressed(): void {
    this.attempt = 0;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
