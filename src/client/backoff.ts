/** How long to wait before reconnect attempt number `attempt` (0-based). */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 15_000 };

/**
 * Full jitter: a uniform delay in [0, min(cap, base·2^attempt)). A deploy
 * drops every socket at once; jitter spreads the reconnects instead of
 * sending them all back in the same instant.
 */
export function backoffDelay(attempt: number, { baseMs, capMs }: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
