/**
 * Fan-out from the group's log to each member's object: one delivery in
 * flight per member, every frame it is owed in one RPC (up to a batch), so
 * a burst of N messages costs each member a couple of round trips, not N.
 * A member's object that fails is retried by alarm with full-jitter
 * backoff, and left alone until then; one that waits for a frame another
 * fan-out object delivers is asked again within a second. The safety net,
 * set in the commit that logged a frame, catches a crash before the
 * fan-out ran.
 */
import type { Alarm } from "../alarm.ts";
import type { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { BATCH_SIZE, retryDelay, SAFETY_NET_MS, waitDelay, withOneRetry } from "../retry.ts";
import type { GroupLog } from "./log.ts";

/** Hands a batch to one member's object; throws if it did not take it. */
export type MemberTransport = (user: string, envelopes: Envelope[]) => Promise<void>;

/** The member's object took the batch up to a frame that must follow one another fan-out object has not delivered yet (user/order.ts). */
export class Waiting extends Error {}

/** deliver() on the member's object; a batch it could not take whole is tried again soon (waitDelay). */
export function memberTransport(env: Env): MemberTransport {
  return async (user, envelopes) => {
    const took = await withOneRetry(() => env.USERS.getByName(user).deliver(envelopes));
    if (!took) throw new Waiting(`${user}'s object waits for an earlier frame of the group from another fan-out object`);
  };
}

export class FanOut {
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly log: GroupLog,
    private readonly alarm: Alarm,
    private readonly transport: MemberTransport,
  ) {}

  /** Arms the safety net in the caller's turn, so it commits with the frames just logged. */
  guard(now: number): void {
    this.alarm.armNow(now + SAFETY_NET_MS);
  }

  /** Flushes every member (present or former) that is owed frames. */
  flushAll(now: number): Promise<void> {
    if (!this.db.exists) return Promise.resolve();
    const latest = this.log.latest();
    const users = this.db.sql.exec<{ user: string }>("SELECT user FROM cursors WHERE sent < ?", latest).toArray();
    return Promise.all(users.map(({ user }) => this.flush(user, now))).then(() => undefined);
  }

  /** Drains one member's frames; a second caller joins the running drain. */
  flush(user: string, now: number): Promise<void> {
    const running = this.flushing.get(user);
    if (running !== undefined) return running;
    const due = this.db.sql.exec<{ due: number }>("SELECT due FROM cursors WHERE user = ?", user).toArray()[0]?.due ?? 0;
    if (due > now) return Promise.resolve();
    const drain = this.drain(user).finally(() => this.flushing.delete(user));
    this.flushing.set(user, drain);
    return drain;
  }

  /** When the fan-out next needs the alarm: the earliest retry, or `fallback` for members owed frames. Null when none is. */
  due(fallback: number): number | null {
    if (!this.db.exists) return null;
    return this.db.sql
      .exec<{ due: number | null }>(
        "SELECT min(CASE WHEN due > 0 THEN due ELSE ? END) AS due FROM cursors WHERE sent < (SELECT max(gseq) FROM frames)",
        fallback,
      )
      .one().due;
  }

  private async drain(user: string): Promise<void> {
    for (;;) {
      const sent = this.db.sql.exec<{ sent: number }>("SELECT sent FROM cursors WHERE user = ?", user).toArray()[0]?.sent;
      if (sent === undefined) return;
      const { envelopes, upTo } = this.log.pending(user, sent, BATCH_SIZE);
      if (envelopes.length === 0) {
        // Nothing after `sent` is in this member's spans: it is up to date with the whole log.
        const latest = this.log.latest();
        this.db.sql.exec("UPDATE cursors SET sent = max(sent, ?) WHERE user = ?", latest, user);
        this.finish(user, latest);
        return;
      }
      try {
        await this.transport(user, envelopes);
      } catch (err) {
        await this.alarm.wakeBy(err instanceof Waiting ? this.waiting(user, upTo) : this.failed(user, err));
        return;
      }
      this.db.sql.exec("UPDATE cursors SET sent = ?, attempts = 0, due = 0 WHERE user = ?", upTo, user);
      this.finish(user, upTo);
    }
  }

  /** A failure: backoff grows with the failures in a row. Returns when to retry. */
  private failed(user: string, err: unknown): number {
    const attempts = this.db.sql
      .exec<{ attempts: number }>("UPDATE cursors SET attempts = attempts + 1 WHERE user = ? RETURNING attempts", user)
      .one().attempts;
    const due = Date.now() + retryDelay(attempts);
    this.db.sql.exec("UPDATE cursors SET due = ? WHERE user = ?", due, user);
    logEvent("warn", "fanout_failed", { user, attempts, retryAt: due, error: errorMessage(err) });
    return due;
  }

  /** The member's object answered, so it is up: no failure counted, asked again soon. Returns when. */
  private waiting(user: string, upTo: number): number {
    const due = Date.now() + waitDelay();
    this.db.sql.exec("UPDATE cursors SET attempts = 0, due = ? WHERE user = ?", due, user);
    logEvent("info", "fanout_waiting", { user, upTo, retryAt: due });
    return due;
  }

  /** Spans the member's object has in full are done; a former member with none left is forgotten. */
  private finish(user: string, upTo: number): void {
    this.db.sql.exec("DELETE FROM spans WHERE user = ? AND until_gseq IS NOT NULL AND until_gseq <= ?", user, upTo);
    const open = this.db.sql.exec<{ n: number }>("SELECT count(*) AS n FROM spans WHERE user = ?", user).one().n;
    if (open === 0) this.db.sql.exec("DELETE FROM cursors WHERE user = ?", user);
  }
}
