/**
 * The Worker's queue consumer: POSTs each event to WEBHOOK_URL, signed, with
 * a 10 s timeout. A 2xx ends the event; anything else (an error status, no
 * answer, a refused connection) is retried through the queue with backoff,
 * and after the queue's last attempt the event lands in the dead-letter
 * queue, whose consumer logs it. Delivery of messages never waits on this.
 */
import { errorMessage, logEvent } from "../logging.ts";
import { erased } from "../protocol/build.ts";
import type { QueuedEvent } from "./events.ts";
import { signature } from "./sign.ts";

/** wrangler.toml names it; events that exhausted their retries arrive here. */
export const DEAD_LETTER_QUEUE = "lunarloom-webhooks-dlq";
const TIMEOUT_MS = 10_000;

/** 2 s, 8 s, 32 s, … up to an hour: a receiver that is down for a while still gets its events. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(3600, 2 * 4 ** Math.max(0, attempts - 1));
}

export async function consume(batch: MessageBatch<QueuedEvent>, env: Env): Promise<void> {
  if (batch.queue === DEAD_LETTER_QUEUE) {
    for (const m of batch.messages) {
      logEvent("error", "webhook_dead_letter", { eventId: m.body.id, attempts: m.attempts });
      m.ack();
    }
    return;
  }
  await Promise.all(batch.messages.map((m) => post(m, env)));
}

async function post(m: Message<QueuedEvent>, env: Env): Promise<void> {
  if (!env.WEBHOOK_URL || !env.WEBHOOK_SECRET) {
    // Turned off since the event was queued: nobody to tell.
    m.ack();
    return;
  }
  try {
    const body = await current(m.body, env);
    const res = await fetch(env.WEBHOOK_URL, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-LunarLoom-Event-Id": m.body.id,
        "X-LunarLoom-Signature": await signature(env.WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000)),
      },
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    // The answer's body is the receiver's business: read nothing, but let the connection go.
    await res.body?.cancel();
    if (res.ok) {
      m.ack();
      return;
    }
    logEvent("warn", "webhook_refused", { eventId: m.body.id, status: res.status, attempts: m.attempts });
  } catch (err) {
    logEvent("warn", "webhook_failed", { eventId: m.body.id, error: errorMessage(err), attempts: m.attempts });
  }
  m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
}

/** The event's body as it may be sent now: a payload whose message was deleted for everyone meanwhile goes out as null. */
async function current(event: QueuedEvent, env: Env): Promise<string> {
  if (!event.payload) return event.body;
  const deleted = await env.USERS.getByName(event.payload.user).deletedForEveryone(event.payload.message);
  return deleted ? erased(event.body) : event.body;
}
