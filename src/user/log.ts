/**
 * The user's log: every frame addressed to the user (incoming messages,
 * copies of their own sends, receipts), numbered by `seq`. It also holds the
 * client id of each of the user's own sends, so that claiming an id and
 * logging the message are one insert, and the offline queue (`queued`).
 * Every row names its conversation, and every history frame updates the
 * conversation index in the same commit.
 */
import { type Db, rows } from "../db.ts";
import { type Envelope, HISTORY_TYPES } from "../envelope.ts";
import { type Conversations, conversationOf, type Removed } from "./conversations.ts";

export interface LoggedFrame {
  seq: number;
  frame: string;
}

/** What a log row can be: a frame's type, or HIDDEN once the user deleted it for themself (user/hide.ts). */
export type LogType = Envelope["type"] | "HIDDEN";

/** A logged frame, as a receipt about it, or a reply, edit, delete or reaction of it, needs it. */
export interface LogEntry {
  seq: number;
  sender: string;
  recipient: string;
  type: LogType;
  conversation: string;
  created: number;
}

export class UserLog {
  constructor(
    private readonly db: Db,
    private readonly me: string,
    private readonly conversations: Conversations,
  ) {}

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
   * used before, for a direct or a group send: then returns the earlier
   * message's server id and time (a resend), and logs nothing. A new send
   * costs this one statement.
   */
  appendSend(e: Envelope, clientId: string, now: number, maxRows: number): { seq: number } | { serverId: string; time: number } {
    const seq = this.insert(e, clientId, false, now, maxRows);
    return seq === null ? this.earlierSend(clientId)! : { seq };
  }

  /**
   * The user's earlier send under this client id, to anyone. A direct send
   * keeps its client id in its own log row; a group send's row comes later,
   * in the group's order, so its id is claimed apart (claimClientId), as is
   * a no-op reaction's, which is never logged.
   */
  earlierSend(clientId: string): { serverId: string; time: number } | null {
    if (!this.db.exists) return null;
    return (
      this.db.sql
        .exec<{ serverId: string; time: number }>(
          `SELECT id AS serverId, created AS time FROM log WHERE client_id = ?1
           UNION ALL SELECT server_id, created FROM group_sends WHERE client_id = ?1 LIMIT 1`,
          clientId,
        )
        .toArray()[0] ?? null
    );
  }

  /** Claims a client id for a send acked now whose log row comes later (a group's copy) or never (a no-op reaction). */
  claimClientId(clientId: string, serverId: string, now: number): void {
    this.db.write.exec("INSERT INTO group_sends (client_id, server_id, created) VALUES (?, ?, ?)", clientId, serverId, now);
  }

  private insert(e: Envelope, clientId: string | null, queued: boolean, now: number, maxRows: number): number | null {
    const conversation = conversationOf(this.me, e);
    // A client id already claimed by a group send stops the insert as a log row's would (ON CONFLICT).
    const row = this.db.write
      .exec<{ seq: number }>(
        `INSERT INTO log (id, client_id, sender, recipient, type, frame, queued, created, conversation, ref)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE ?2 IS NULL OR NOT EXISTS (SELECT 1 FROM group_sends WHERE client_id = ?2)
         ON CONFLICT DO NOTHING RETURNING seq`,
        e.id,
        clientId,
        e.sender,
        e.recipient,
        e.type,
        e.frame,
        queued ? 1 : 0,
        now,
        conversation,
        e.ref ?? null,
      )
      .toArray()[0];
    if (!row) return null;
    if (HISTORY_TYPES.includes(e.type)) this.conversations.logged(conversation, e, row.seq, now);
    if (row.seq > maxRows) {
      // Past the cap each append drops the oldest row; an unread message among them no longer counts.
      this.dropped(
        this.db.sql.exec<Removed>("DELETE FROM log WHERE seq <= ? RETURNING id, seq, type, sender, conversation", row.seq - maxRows),
      );
    }
    return row.seq;
  }

  latestSeq(): number {
    if (!this.db.exists) return 0;
    return this.db.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM log").one().s ?? 0;
  }

  /** Every retained frame after `since`, in order (but those the user deleted for themself); they count as sent from now on. */
  *replay(since: number): Generator<LoggedFrame> {
    if (!this.db.exists) return;
    // The UPDATE is a write, so a commit: skip it when nothing was replayed (the usual reconnect).
    if (
      yield* rows(
        this.db.sql.exec<LoggedFrame & Record<string, SqlStorageValue>>(
          "SELECT seq, frame FROM log WHERE seq > ? AND type <> 'HIDDEN' ORDER BY seq",
          since,
        ),
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

  /** A logged frame by its server id: who sent it, to whom, where it is; for checking a receipt or a change. */
  lookup(id: string): LogEntry | null {
    if (!this.db.exists) return null;
    return (
      this.db.sql
        .exec<LogEntry & Record<string, SqlStorageValue>>(
          "SELECT seq, sender, recipient, type, conversation, created FROM log WHERE id = ?",
          id,
        )
        .toArray()[0] ?? null
    );
  }

  /** Drops rows older than `cutoff`; returns when the oldest remaining one was created, or null. */
  prune(cutoff: number): number | null {
    if (!this.db.exists) return null;
    // Log rows are created in seq order: everything before the first young row goes.
    this.db.sql.exec("DELETE FROM group_sends WHERE created < ?", cutoff);
    this.db.sql.exec("DELETE FROM notice_keys WHERE created < ?", cutoff);
    this.dropped(
      this.db.sql.exec<Removed>(
        "DELETE FROM log WHERE seq < coalesce((SELECT seq FROM log WHERE created >= ? ORDER BY seq LIMIT 1), 9e18) RETURNING id, seq, type, sender, conversation",
        cutoff,
      ),
    );
    return this.db.sql.exec<{ t: number | null }>("SELECT created AS t FROM log ORDER BY seq LIMIT 1").toArray()[0]?.t ?? null;
  }

  /** Log rows went (retention, the row cap): they no longer count as unread, and their messages' state goes with them. */
  private dropped(removed: Iterable<Removed>): void {
    const rows = [...removed];
    this.conversations.forget(rows);
    for (const { id } of rows) {
      this.db.sql.exec("DELETE FROM message_state WHERE id = ?", id);
      this.db.sql.exec("DELETE FROM reactions WHERE message = ?", id);
    }
  }
}
