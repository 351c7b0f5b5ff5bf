/**
 * The conversation index (PROTOCOL.md, Conversations and history): one row
 * per conversation with its latest activity, unread count and watermarks,
 * written in the same commit as the log row that changes it, so the list and
 * the log never disagree. History pages read the log through the partial
 * index log_history on (conversation, seq): a page costs the same whatever
 * the size of the log.
 */
import type { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import { currentText, isoSecond, type MessageState, withSeq } from "../protocol/build.ts";
import { isGroupId, type ReceiptContent, SYSTEM } from "../protocol/frames.ts";

export type ConversationKind = "direct" | "group" | "system";

/** The log_history index's condition, written as the index has it so that SQLite uses the index. */
const HISTORY = "type IN ('USER_MSG', 'NOTICE', 'GROUP_EVENT')";

/**
 * The conversation a frame belongs to: the group when `to` is a group id,
 * else the other party (`from` for incoming frames, `to` for the user's own
 * sends and receipts). The server's notices make the conversation `system`.
 */
export function conversationOf(me: string, e: Pick<Envelope, "sender" | "recipient">): string {
  if (isGroupId(e.recipient)) return e.recipient;
  return e.sender === me ? e.recipient : e.sender;
}

export function kindOf(conversation: string): ConversationKind {
  if (isGroupId(conversation)) return "group";
  return conversation === SYSTEM ? "system" : "direct";
}

/** A log row that retention deleted. */
export interface Removed extends Record<string, SqlStorageValue> {
  id: string;
  seq: number;
  type: string;
  sender: string;
  conversation: string;
}

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  kind: ConversationKind;
  name: string | null;
  last_seq: number;
  unread: number;
  read_up_to: number;
  peer_delivered_up_to: number;
  peer_read_up_to: number;
  updated: number;
  muted_until: number | null;
  pinned: number;
  archived: number;
  frame: string | null;
}

/** The state row beside a log row (user/state.ts): how a message is now. */
const STATE = "LEFT JOIN message_state s ON s.id = l.id";
const STATE_COLUMNS = "s.message, s.edited, s.deleted, s.reactions";
type WithState<T> = T & { [K in keyof MessageState]: MessageState[K] };

/** A logged frame's text as history shows it: as it is now. */
function now(text: string, s: MessageState): string {
  return s.message === null && s.deleted === null && s.reactions === null ? text : currentText(text, s);
}

/** Not counted as unread: deleted for everyone. (Deleted for me is a HIDDEN row, outside `type = 'USER_MSG'`.) */
const NOT_DELETED = "NOT EXISTS (SELECT 1 FROM message_state s WHERE s.id = log.id AND s.deleted IS NOT NULL)";

const str = JSON.stringify;

/** The messages of one conversation in a delivery batch, as one index write. */
interface Moved {
  seq: number;
  unread: number;
  now: number;
}

export class Conversations {
  /** While a delivery batch is handled (`defer`): index moves of messages per conversation, not yet written. */
  private deferred: Map<string, Moved> | null = null;

  constructor(
    private readonly db: Db,
    private readonly me: string,
  ) {}

  /**
   * Until `flush`, messages (not notices or events) move their conversation's row
   * once, at the end: a group's batch of 30 messages costs one write of the
   * index, not 30. Every other use of the index writes what is deferred
   * first, so nothing ever sees the index behind the log. The caller flushes
   * in the same turn, so the index still commits with the log rows.
   */
  defer(): void {
    this.deferred ??= new Map();
  }

  /** Writes the deferred moves and stops deferring. */
  flush(): void {
    const deferred = this.deferred;
    if (deferred === null) return;
    this.deferred = null;
    for (const [conversation, { seq, unread, now }] of deferred) this.move(conversation, seq, unread, 1, now);
  }

  /**
   * A history frame was logged at `seq`: its conversation moves to the top; an
   * incoming message adds one unread; a message or notice (either party's)
   * takes an archived conversation out of the archive unless it is muted.
   */
  logged(conversation: string, e: Envelope, seq: number, now: number): void {
    const incoming = e.type === "USER_MSG" && e.sender !== this.me ? 1 : 0;
    if (this.deferred !== null && e.type === "USER_MSG") {
      this.deferred.set(conversation, { seq, unread: (this.deferred.get(conversation)?.unread ?? 0) + incoming, now });
      return;
    }
    this.flush();
    this.move(conversation, seq, incoming, e.type === "USER_MSG" || e.type === "NOTICE" ? 1 : 0, now);
  }

  private move(conversation: string, seq: number, incoming: number, message: number, now: number): void {
    this.db.write.exec(
      `INSERT INTO conversations (id, kind, last_seq, unread, updated) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, unread = unread + excluded.unread, updated = excluded.updated,
         archived = CASE WHEN ?6 AND (muted_until IS NULL OR muted_until <= ?5) THEN 0 ELSE archived END`,
      conversation,
      kindOf(conversation),
      seq,
      incoming,
      now,
      message,
    );
  }

  /** A group's conversation takes the group's name (from its `created`, `renamed` or `member_added` event). */
  named(conversation: string, name: string): void {
    this.flush();
    this.db.sql.exec("UPDATE conversations SET name = ? WHERE id = ?", name, conversation);
  }

  /** The user read the message at `seq`: readUpTo moves there if that is forward, and unread is recounted. */
  read(conversation: string, seq: number): void {
    this.flush();
    this.db.write.exec(
      `UPDATE conversations SET read_up_to = ?1,
         unread = (SELECT count(*) FROM log WHERE conversation = ?2 AND ${HISTORY} AND type = 'USER_MSG' AND sender <> ?3 AND seq > ?1
           AND ${NOT_DELETED})
       WHERE id = ?2 AND read_up_to < ?1`,
      seq,
      conversation,
      this.me,
    );
  }

  /** The peer reported the user's message at `seq` delivered or read: that watermark moves forward. */
  peerReported(conversation: string, content: ReceiptContent, seq: number): void {
    this.flush();
    const column = content === "MESSAGE_READ" ? "peer_read_up_to" : "peer_delivered_up_to";
    this.db.write.exec(`UPDATE conversations SET ${column} = max(${column}, ?) WHERE id = ?`, seq, conversation);
  }

  /** Log rows went (retention): an unread message among them no longer counts. The conversations stay listed. */
  forget(removed: Iterable<Removed>): void {
    this.flush();
    for (const { id, seq, type, sender, conversation } of removed) {
      if (type !== "USER_MSG" || sender === this.me) continue;
      // One deleted for everyone stopped counting then.
      if (this.db.sql.exec("SELECT 1 FROM message_state WHERE id = ? AND deleted IS NOT NULL", id).toArray().length === 0) {
        this.uncount(conversation, seq);
      }
    }
  }

  /** An incoming message at `seq` stops counting as unread (deleted, or retention took it). */
  uncount(conversation: string, seq: number): void {
    this.flush();
    this.db.sql.exec("UPDATE conversations SET unread = unread - 1 WHERE id = ? AND read_up_to < ? AND unread > 0", conversation, seq);
  }

  /**
   * The message at `seq` was deleted for the user alone: if it was the
   * latest, the conversation's latest is the one before it (or, with none
   * left, it keeps its place and shows no `last`).
   */
  hidden(conversation: string, seq: number): void {
    this.flush();
    this.db.sql.exec(
      `UPDATE conversations SET last_seq = coalesce((SELECT max(seq) FROM log WHERE conversation = ?1 AND ${HISTORY}), last_seq)
       WHERE id = ?1 AND last_seq = ?2`,
      conversation,
      seq,
    );
  }

  /**
   * The response body of GET /v1/conversations: newest activity first,
   * `before` a cursor from an earlier page's `next`; the archived ones only
   * when `archived`, else the others. The total `unread` leaves out muted
   * conversations (until their `mutedUntil`), archived or not.
   */
  list(before: number | null, limit: number, archived: boolean, now: number): string {
    this.flush();
    if (!this.db.exists) return '{"conversations":[],"unread":0,"next":null}';
    const rows = this.db.sql
      .exec<WithState<Row>>(
        `SELECT c.*, l.frame, ${STATE_COLUMNS} FROM conversations c LEFT JOIN log l ON l.seq = c.last_seq AND l.${HISTORY} ${STATE}
         WHERE c.last_seq < ? AND c.archived = ? ORDER BY c.last_seq DESC LIMIT ?`,
        before ?? Number.MAX_SAFE_INTEGER,
        archived ? 1 : 0,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? str(String(page.at(-1)!.last_seq)) : "null";
    const unread = this.db.sql
      .exec<{ n: number }>("SELECT coalesce(sum(unread), 0) AS n FROM conversations WHERE muted_until IS NULL OR muted_until <= ?", now)
      .one().n;
    return `{"conversations":[${page.map((r) => this.render(r, now)).join(",")}],"unread":${unread},"next":${next}}`;
  }

  /** One conversation as the list shows it, or null if the user has no such conversation. */
  one(id: string, now: number): string | null {
    this.flush();
    if (!this.db.exists) return null;
    const row = this.db.sql
      .exec<WithState<Row>>(
        `SELECT c.*, l.frame, ${STATE_COLUMNS} FROM conversations c LEFT JOIN log l ON l.seq = c.last_seq AND l.${HISTORY} ${STATE}
         WHERE c.id = ?`,
        id,
      )
      .toArray()[0];
    return row ? this.render(row, now) : null;
  }

  /** Whether the user muted this conversation until after `now` (no message.offline webhook for it). Deferred moves do not change that. */
  muted(id: string, now: number): boolean {
    return this.db.sql.exec("SELECT 1 FROM conversations WHERE id = ? AND muted_until > ?", id, now).toArray().length > 0;
  }

  /**
   * The response body of GET /v1/conversations/<id>/messages: the history
   * frames before `before`, the newest page first, each page oldest first,
   * each message as it is now (its state row, if it changed). The user's
   * own messages in a direct conversation carry their status.
   */
  history(id: string, before: number | null, limit: number): string {
    this.flush();
    if (!this.db.exists) return '{"messages":[],"next":null}';
    const rows = this.db.sql
      .exec<WithState<{ seq: number; frame: string; sender: string; type: string }>>(
        `SELECT l.seq, l.frame, l.sender, l.type, ${STATE_COLUMNS} FROM log l ${STATE}
         WHERE l.conversation = ? AND l.${HISTORY} AND l.seq < ? ORDER BY l.seq DESC LIMIT ?`,
        id,
        before ?? Number.MAX_SAFE_INTEGER,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit).reverse();
    const next = rows.length > limit ? String(page[0]!.seq) : "null";
    const marks =
      kindOf(id) === "direct"
        ? this.db.sql
            .exec<{ delivered: number; read: number }>(
              "SELECT peer_delivered_up_to AS delivered, peer_read_up_to AS read FROM conversations WHERE id = ?",
              id,
            )
            .toArray()[0]
        : undefined;
    const frames = page.map(({ seq, frame, sender, type, ...state }) => {
      const text = withSeq(now(frame, state), seq);
      if (!marks || sender !== this.me || type !== "USER_MSG") return text;
      const status = seq <= marks.read ? "read" : seq <= marks.delivered ? "delivered" : "stored";
      return `${text.slice(0, -1)},"status":"${status}"}`;
    });
    return `{"messages":[${frames.join(",")}],"next":${next}}`;
  }

  private render(r: WithState<Row>, at: number): string {
    const parts = [
      `"id":${str(r.id)}`,
      `"kind":${str(r.kind)}`,
      ...(r.kind === "group" ? [`"name":${str(r.name ?? "")}`] : []),
      `"lastSeq":${r.last_seq}`,
      `"last":${r.frame === null ? "null" : withSeq(now(r.frame, r), r.last_seq)}`,
      `"unread":${r.unread}`,
      `"readUpTo":${r.read_up_to}`,
      ...(r.kind === "direct" ? [`"peerDeliveredUpTo":${r.peer_delivered_up_to}`, `"peerReadUpTo":${r.peer_read_up_to}`] : []),
      `"updated":${str(isoSecond(r.updated))}`,
      `"mutedUntil":${r.muted_until !== null && r.muted_until > at ? str(isoSecond(r.muted_until)) : "null"}`,
      `"pinned":${r.pinned === 1}`,
      `"archived":${r.archived === 1}`,
    ];
    return `{${parts.join(",")}}`;
  }
}
