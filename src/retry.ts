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

/**
 * A member's object that is up but first needs a frame another fan-out
 * object is delivering (a move, user/order.ts) is asked again in 0.5-1 s,
 * however often it answered so: that frame lands within the other object's
 * own schedule, and a backoff grown here would only add its wait on top.
 */
export function waitDelay(): number {
  return RETRY_BASE_MS * (1 + Math.random());
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
