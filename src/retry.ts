/**
 * Delivery between objects, shared by the user object's outbox and the
 * group object's fan-out: batches, the safety net, backoff, and which
 * failures are worth an immediate second try (DESIGN.md, platform facts).
 */

/** Frames sent per RPC: one round trip for a burst, bounded in size. */
export const BATCH_SIZE = 256;

/** If an object dies between its commit and the delivery, this alarm finds the undelivered rows. */
export const SAFETY_NET_MS = 10_000;

const RETRY_BASE_MS = 500;
/** The longest wait between two tries of one delivery. */
export const RETRY_CAP_MS = 60_000;

/** Full-jitter backoff after `attempts` failures in a row: a uniform wait up to 1 s, 2 s, … 60 s. */
export function retryDelay(attempts: number): number {
  return Math.random() * Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** attempts);
}

/** One immediate retry, on a fresh stub, for errors the runtime marks retryable and not overloaded. */
export async function withOneRetry<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as { retryable?: boolean; overloaded?: boolean };
    if (!e.retryable || e.overloaded) throw err;
    return await call();
  }
}
