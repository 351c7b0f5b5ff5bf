/**
 * The group's side of the fan-out tree (PROTOCOL.md, Large groups): each
 * shard gets the group's log in order, in batches, with the spans of its
 * members that changed since its last batch, and delivers to its members
 * itself (src/shard). One push in flight per shard; a shard that fails is
 * retried by alarm with backoff, like a member (fanout.ts). The group's log
 * is the one order and is committed once; a shard only ever forwards it.
 */
import type { Alarm } from "../alarm.ts";
import type { Db } from "../db.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { BATCH_SIZE, retryDelay } from "../retry.ts";

/** A frame of the group's log as a shard keeps it. */
export interface ShardFrame extends Record<string, SqlStorageValue> {
  gseq: number;
  id: string;
  sender: string;
  type: string;
  frame: string;
  origin: string | null;
  ref: string | null;
}

/** A span a shard delivers (spans.ts); `until_gseq` below `from_gseq` means: forget the member. */
export interface ShardSpan extends Record<string, SqlStorageValue> {
  user: string;
  from_gseq: number;
  until_gseq: number | null;
  prev: number;
}

/** The name a group's shard object is addressed by. */
export function shardName(group: string, shard: number): string {
  return `${group}#${shard}`;
}

/** Hands a batch to one shard; throws if it did not take it. */
export type ShardTransport = (shard: number, frames: ShardFrame[], spans: ShardSpan[]) => Promise<void>;

export class Tree {
  private readonly pushing = new Map<number, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly alarm: Alarm,
    private readonly transport: ShardTransport,
  ) {}

  /** Pushes to every shard that is behind the log. */
  flushAll(now: number): Promise<void> {
    if (!this.db.exists) return Promise.resolve();
    const shards = this.db.sql
      .exec<{ shard: number }>("SELECT shard FROM shards WHERE sent < (SELECT max(gseq) FROM frames) AND due <= ?", now)
      .toArray();
    return Promise.all(shards.map(({ shard }) => this.flush(shard))).then(() => undefined);
  }

  /** The shards that deliver now, for ephemeral frames (TYPING). */
  active(): number[] {
    if (!this.db.exists) return [];
    return this.db.sql
      .exec<{ shard: number }>("SELECT DISTINCT shard FROM members WHERE shard IS NOT NULL")
      .toArray()
      .map((r) => r.shard);
  }

  /** When a shard next needs the alarm: the earliest retry, or `fallback` for shards behind the log. Null when none is. */
  due(fallback: number): number | null {
    if (!this.db.exists) return null;
    return this.db.sql
      .exec<{ due: number | null }>(
        "SELECT min(CASE WHEN due > 0 THEN due ELSE ? END) AS due FROM shards WHERE sent < (SELECT max(gseq) FROM frames)",
        fallback,
      )
      .one().due;
  }

  private flush(shard: number): Promise<void> {
    const running = this.pushing.get(shard);
    if (running !== undefined) return running;
    const push = this.push(shard).finally(() => this.pushing.delete(shard));
    this.pushing.set(shard, push);
    return push;
  }

  private async push(shard: number): Promise<void> {
    for (;;) {
      const sent = this.db.sql.exec<{ sent: number }>("SELECT sent FROM shards WHERE shard = ?", shard).toArray()[0]?.sent;
      if (sent === undefined) return;
      const frames = this.db.sql
        .exec<ShardFrame>(
          "SELECT gseq, id, sender, type, frame, origin, ref FROM frames WHERE gseq > ? ORDER BY gseq LIMIT ?",
          sent,
          BATCH_SIZE,
        )
        .toArray();
      if (frames.length === 0) return;
      // Every span that changed since the shard's last batch, as it is now (a later change is told again).
      const spans = this.db.sql
        .exec<ShardSpan>("SELECT user, from_gseq, until_gseq, prev FROM shard_spans WHERE shard = ? AND rev > ?", shard, sent)
        .toArray();
      const upTo = frames.at(-1)!.gseq;
      try {
        await this.transport(shard, frames, spans);
      } catch (err) {
        const attempts = this.db.sql
          .exec<{ attempts: number }>("UPDATE shards SET attempts = attempts + 1 WHERE shard = ? RETURNING attempts", shard)
          .one().attempts;
        const due = Date.now() + retryDelay(attempts);
        this.db.sql.exec("UPDATE shards SET due = ? WHERE shard = ?", due, shard);
        logEvent("warn", "shard_push_failed", { shard, attempts, retryAt: due, error: errorMessage(err) });
        await this.alarm.wakeBy(due);
        return;
      }
      this.db.sql.exec("UPDATE shards SET sent = ?, attempts = 0, due = 0 WHERE shard = ?", upTo, shard);
      this.finish(shard, upTo);
    }
  }

  /** Closed spans the shard has in full are its own now; a shard with no members and nothing owed is forgotten. */
  private finish(shard: number, upTo: number): void {
    this.db.sql.exec(
      "DELETE FROM shard_spans WHERE shard = ? AND until_gseq IS NOT NULL AND until_gseq <= ? AND rev <= ?",
      shard,
      upTo,
      upTo,
    );
    const left = this.db.sql
      .exec<{ n: number }>(
        "SELECT (SELECT count(*) FROM shard_spans WHERE shard = ?1) + (SELECT count(*) FROM members WHERE shard = ?1) AS n",
        shard,
      )
      .one().n;
    if (left === 0) this.db.sql.exec("DELETE FROM shards WHERE shard = ?", shard);
  }
}
