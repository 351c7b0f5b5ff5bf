/**
 * The outbox: frames owed to other objects, written in the same commit as
 * the log row that produced them and drained from there, so an ack never
 * waits on another object and a crash between ack and delivery loses
 * nothing (the safety-net alarm finds the rows).
 *
 * One delivery in flight per recipient: while an RPC runs, new rows for that
 * recipient wait and go in the next call, so per-recipient order holds and a
 * burst costs a few round trips. A failing recipient is retried by alarm with
 * full-jitter backoff, and left alone until then, whoever asks.
 *
 * Delivered rows are removed with the object's next write rather than in a
 * commit of their own: a commit is most of what a message costs (an fsync
 * under `wrangler dev`), and a send or a delivery writes anyway. Until then
 * the drain skips them by position; a crash before their removal redelivers
 * them, which the recipient's dedupe by server id absorbs as it absorbs any
 * retried batch. An object that stops writing removes them shortly after.
 */

import type { Alarm } from "../alarm.ts";
import type { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { BATCH_SIZE, retryDelay, SAFETY_NET_MS } from "../retry.ts";

/**
 * Delivers a batch to one recipient's object; throws if it did not take it.
 * Whatever it does with the answer before returning commits with the rows' removal.
 */
export type Transport = (recipient: string, envelopes: Envelope[]) => Promise<void>;

interface OutboxRow extends Record<string, SqlStorageValue> {
  oid: number;
  id: string;
  sender: string;
  recipient: string;
  type: Envelope["type"];
  frame: string;
  client_id: string | null;
  origin: string | null;
  ref: string | null;
}

/** How long delivered rows may wait for another write before they are removed by themselves. */
const SWEEP_DELAY_MS = 1_000;

export class Outbox {
  private readonly flushing = new Map<string, Promise<void>>();
  /** Per recipient, the last row delivered but not yet removed. */
  private readonly delivered = new Map<string, number>();
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly db: Db,
    private readonly alarm: Alarm,
    private readonly transport: Transport,
  ) {}

  /** Queues a frame for its recipient; the caller flushes after its commit. */
  enqueue(e: Envelope): void {
    this.sweep();
    this.db.write.exec(
      "INSERT INTO outbox (id, sender, recipient, type, frame, client_id, origin, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      e.id,
      e.sender,
      e.recipient,
      e.type,
      e.frame,
      e.clientId ?? null,
      e.origin ?? null,
      e.ref ?? null,
    );
  }

  /** Arms the safety net in the caller's turn, so it commits with the rows just enqueued. */
  guard(now: number): void {
    this.alarm.armNow(now + SAFETY_NET_MS);
  }

  /**
   * Drains the outbox for one recipient, oldest first, a batch per RPC. A
   * second caller while a drain runs joins it: the running loop picks up the
   * new rows. A recipient in backoff is left to its retry alarm.
   */
  flush(recipient: string, now: number): Promise<void> {
    const running = this.flushing.get(recipient);
    if (running !== undefined) return running;
    const due = this.retryDue(recipient);
    if ((due ?? 0) > now) return Promise.resolve();
    const drain = this.drain(recipient, due !== null).finally(() => this.flushing.delete(recipient));
    this.flushing.set(recipient, drain);
    return drain;
  }

  /** Every recipient with rows waiting: what the alarm flushes. */
  recipients(): string[] {
    if (!this.db.exists) return [];
    return this.db.sql
      .exec<{ recipient: string }>("SELECT DISTINCT recipient FROM outbox")
      .toArray()
      .map((r) => r.recipient);
  }

  /**
   * When the outbox next needs the alarm: the earliest retry, or `fallback`
   * for rows that no retry covers (a crash between ack and delivery). Null
   * when the outbox is empty.
   */
  due(fallback: number): number | null {
    if (!this.db.exists) return null;
    return this.db.sql
      .exec<{ due: number | null }>(
        `SELECT min(coalesce(r.due, ?)) AS due FROM (SELECT DISTINCT recipient FROM outbox) o
         LEFT JOIN retries r USING (recipient)`,
        fallback,
      )
      .one().due;
  }

  /** Removes the rows delivered so far, in the caller's transaction. */
  sweep(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const [recipient, upTo] of this.delivered) {
      this.db.sql.exec("DELETE FROM outbox WHERE recipient = ? AND oid <= ?", recipient, upTo);
    }
    this.delivered.clear();
  }

  /** After the object's storage was erased: nothing delivered is left to remove. */
  forget(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.delivered.clear();
  }

  private async drain(recipient: string, retrying: boolean): Promise<void> {
    for (;;) {
      const { envelopes, upTo } = this.pending(recipient);
      if (envelopes.length === 0) return;
      try {
        await this.transport(recipient, envelopes);
      } catch (err) {
        // Full-jitter backoff, by alarm: no timers keep the object awake.
        const attempts = this.failed(recipient);
        const due = Date.now() + retryDelay(attempts);
        this.db.sql.exec("UPDATE retries SET due = ? WHERE recipient = ?", due, recipient);
        logEvent("warn", "delivery_failed", { recipient, attempts, retryAt: due, error: errorMessage(err) });
        await this.alarm.wakeBy(due);
        return;
      }
      this.delivered.set(recipient, upTo);
      this.sweepTimer ??= setTimeout(() => this.sweep(), SWEEP_DELAY_MS);
      if (retrying) this.db.sql.exec("DELETE FROM retries WHERE recipient = ?", recipient);
      retrying = false;
    }
  }

  /** The oldest undelivered frames for one recipient, and the last row's position. */
  private pending(recipient: string): { envelopes: Envelope[]; upTo: number } {
    const rows = this.db.sql
      .exec<OutboxRow>(
        "SELECT oid, id, sender, recipient, type, frame, client_id, origin, ref FROM outbox WHERE recipient = ? AND oid > ? ORDER BY oid LIMIT ?",
        recipient,
        this.delivered.get(recipient) ?? 0,
        BATCH_SIZE,
      )
      .toArray();
    const envelopes = rows.map(({ id, sender, recipient, type, frame, client_id, origin, ref }) => {
      const e: Envelope = { id, sender, recipient, type, frame };
      if (client_id !== null) e.clientId = client_id;
      if (origin !== null) e.origin = origin;
      if (ref !== null) e.ref = ref;
      return e;
    });
    return { envelopes, upTo: rows.at(-1)?.oid ?? 0 };
  }

  /** When a recipient in backoff may be tried again; null if its last delivery did not fail. */
  private retryDue(recipient: string): number | null {
    if (!this.db.exists) return null;
    return this.db.sql.exec<{ due: number }>("SELECT due FROM retries WHERE recipient = ?", recipient).toArray()[0]?.due ?? null;
  }

  /** Counts a failed delivery attempt and returns how many have failed in a row. */
  private failed(recipient: string): number {
    return this.db.sql
      .exec<{ attempts: number }>(
        `INSERT INTO retries (recipient, attempts, due) VALUES (?, 1, 0)
         ON CONFLICT (recipient) DO UPDATE SET attempts = attempts + 1 RETURNING attempts`,
        recipient,
      )
      .one().attempts;
  }
}
