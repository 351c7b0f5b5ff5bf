/**
 * The user's log: every frame addressed to the user (incoming messages,
 * copies of their own sends, receipts), numbered by `seq`. It also holds the
 * client id of each of the user's own sends, so that claiming an id and
 * logging the message are one insert, and the offline queue (`queued`).
 */
import { type Db, rows } from "../db.ts";
import type { Envelope } from "../envelope.ts";

export interface LoggedFrame {
  seq: number;
  frame: string;
}

export class UserLog {
  constructor(private readonly db: Db) {}

  /**
   * Appends unless a frame with this id is already there (delivery is
   * retried, so it must be idempotent). Returns the new seq, or null for a
   * duplicate. `queued` frames wait for the user's next connection.
   */
  append(e: Envelope, queued: boolean, now: number, maxRows: number): number | null {
    return this.insert(e, null, queued, now, maxRows);
  }

  /**
   * Logs the user's own new message under the client's id, unless that id was
   * used before: then returns the earlier message's server id and time (a
   * resend), and logs nothing.
   */
  appendSend(e: Envelope, clientId: string, now: number, maxRows: number): { seq: number } | { serverId: string; time: number } {
    const seq = this.insert(e, clientId, false, now, maxRows);
    if (seq !== null) return { seq };
    return this.db.sql
      .exec<{ serverId: string; time: number }>("SELECT id AS serverId, created AS time FROM log WHERE client_id = ?", clientId)
      .one();
  }

  private insert(e: Envelope, clientId: string | null, queued: boolean, now: number, maxRows: number): number | null {
    const row = this.db.write
      .exec<{ seq: number }>(
        `INSERT INTO log (id, client_id, sender, recipient, type, frame, queued, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING seq`,
        e.id,
        clientId,
        e.sender,
        e.recipient,
        e.type,
        e.frame,
        queued ? 1 : 0,
        now,
      )
      .toArray()[0];
    if (!row) return null;
    if (row.seq > maxRows) this.db.sql.exec("DELETE FROM log WHERE seq <= ?", row.seq - maxRows);
    return row.seq;
  }

  latestSeq(): number {
    if (!this.db.exists) return 0;
    return this.db.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM log").one().s ?? 0;
  }

  /** Every retained frame after `since`, in order; they count as sent from now on. */
  *replay(since: number): Generator<LoggedFrame> {
    if (!this.db.exists) return;
    // The UPDATE is a write, so a commit: skip it when nothing was replayed (the usual reconnect).
    if (
      yield* rows(
        this.db.sql.exec<LoggedFrame & Record<string, SqlStorageValue>>("SELECT seq, frame FROM log WHERE seq > ? ORDER BY seq", since),
      )
    ) {
      this.db.sql.exec("UPDATE log SET queued = 0 WHERE queued = 1 AND seq > ?", since);
    }
  }

  /** The offline queue, in order; it is empty once consumed. */
  *takeQueued(): Generator<LoggedFrame> {
    if (!this.db.exists) return;
    if (
      yield* rows(
        this.db.sql.exec<LoggedFrame & Record<string, SqlStorageValue>>("SELECT seq, frame FROM log WHERE queued = 1 ORDER BY seq"),
      )
    ) {
      this.db.sql.exec("UPDATE log SET queued = 0 WHERE queued = 1");
    }
  }

  /** Who sent a logged frame and to whom, for checking a receipt. */
  lookup(id: string): Pick<Envelope, "sender" | "recipient" | "type"> | null {
    if (!this.db.exists) return null;
    return (
      this.db.sql
        .exec<Pick<Envelope, "sender" | "recipient" | "type">>("SELECT sender, recipient, type FROM log WHERE id = ?", id)
        .toArray()[0] ?? null
    );
  }

  /** Drops rows older than `cutoff`; returns when the oldest remaining one was created, or null. */
  prune(cutoff: number): number | null {
    if (!this.db.exists) return null;
    // Log rows are created in seq order: everything before the first young row goes.
    this.db.sql.exec("DELETE FROM log WHERE seq < coalesce((SELECT seq FROM log WHERE created >= ? ORDER BY seq LIMIT 1), 9e18)", cutoff);
    return this.db.sql.exec<{ t: number | null }>("SELECT created AS t FROM log ORDER BY seq LIMIT 1").toArray()[0]?.t ?? null;
  }
}
