/**
 * The group's log: every message, notice and change, in the group's one
 * order (`gseq`), kept until every member's object has it (and retention
 * allows). Appends are idempotent by server id: members' outboxes retry.
 */
import type { Db } from "../db.ts";
import type { Envelope, EnvelopeType } from "../envelope.ts";

export interface GroupFrame {
  id: string;
  sender: string;
  type: EnvelopeType;
  frame: string;
  /** The sending socket's connection id, so the sender's copy skips it. */
  origin?: string;
  /** A notice's idempotency key from the server API. */
  noticeKey?: string;
  /** The message a reply answers, or an edit, delete or reaction changes. */
  ref?: string;
}

/** A logged frame, as a receipt, reply or change that names it needs it. */
export interface GroupEntry {
  gseq: number;
  sender: string;
  type: EnvelopeType;
  created: number;
  /** When it was deleted for everyone, or null. */
  deleted: number | null;
}

interface Row extends Record<string, SqlStorageValue> {
  gseq: number;
  prev: number;
  id: string;
  sender: string;
  type: EnvelopeType;
  frame: string;
  origin: string | null;
  ref: string | null;
}

export class GroupLog {
  constructor(
    private readonly db: Db,
    private readonly group: string,
  ) {}

  /** The frame's gseq, or null if a frame with its id (or notice key) is already there. */
  append(f: GroupFrame, now: number): number | null {
    return (
      this.db.write
        .exec<{ gseq: number }>(
          `INSERT INTO frames (id, sender, type, frame, origin, notice_key, created, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO NOTHING RETURNING gseq`,
          f.id,
          f.sender,
          f.type,
          f.frame,
          f.origin ?? null,
          f.noticeKey ?? null,
          now,
          f.ref ?? null,
        )
        .toArray()[0]?.gseq ?? null
    );
  }

  /** A frame's place and sender, by its server id. */
  byId(id: string): GroupEntry | null {
    if (!this.db.exists) return null;
    return (
      this.db.sql
        .exec<GroupEntry & Record<string, SqlStorageValue>>("SELECT gseq, sender, type, created, deleted FROM frames WHERE id = ?", id)
        .toArray()[0] ?? null
    );
  }

  /** The notice already logged under a server API idempotency key. */
  byNoticeKey(key: string): { id: string; created: number } | null {
    if (!this.db.exists) return null;
    return (
      this.db.sql.exec<{ id: string; created: number }>("SELECT id, created FROM frames WHERE notice_key = ?", key).toArray()[0] ?? null
    );
  }

  latest(): number {
    if (!this.db.exists) return 0;
    return this.db.sql.exec<{ g: number | null }>("SELECT max(gseq) AS g FROM frames").one().g ?? 0;
  }

  /** The frames owed to `user` after `after`, within its spans, oldest first, as envelopes for its object. */
  pending(user: string, after: number, limit: number): { envelopes: Envelope[]; upTo: number } {
    const rows = this.db.sql
      .exec<Row>(
        `SELECT f.gseq, f.id, f.sender, f.type, f.frame, f.origin, f.ref, s.prev FROM frames f
         JOIN spans s ON s.user = ?1 AND f.gseq >= s.from_gseq AND (s.until_gseq IS NULL OR f.gseq <= s.until_gseq)
         WHERE f.gseq > ?2 ORDER BY f.gseq LIMIT ?3`,
        user,
        after,
        limit,
      )
      .toArray();
    const envelopes = rows.map(({ gseq, id, sender, type, frame, origin, ref, prev }) => {
      const e: Envelope = { id, sender, recipient: this.group, type, frame, gseq };
      if (prev > 0) e.after = prev;
      if (origin !== null) e.origin = origin;
      if (ref !== null) e.ref = ref;
      return e;
    });
    return { envelopes, upTo: rows.at(-1)?.gseq ?? after };
  }

  /**
   * Drops frames every member's object already has that are older than
   * `cutoff`; returns when the oldest remaining one was created, or null.
   */
  prune(cutoff: number): number | null {
    if (!this.db.exists) return null;
    const gone = this.db.sql
      .exec<{ id: string }>(
        `DELETE FROM frames WHERE created < ? AND gseq <= coalesce(
           (SELECT min(sent) FROM (SELECT sent FROM cursors UNION ALL SELECT sent FROM shards)), (SELECT max(gseq) FROM frames)) RETURNING id`,
        cutoff,
      )
      .toArray();
    for (const { id } of gone) this.db.sql.exec("DELETE FROM reactions WHERE message = ?", id);
    // A former member's span that ends before the oldest frame left holds nothing a delete could name.
    this.db.sql.exec("DELETE FROM former_spans WHERE until_gseq < coalesce((SELECT min(gseq) FROM frames), 9e18)");
    return this.db.sql.exec<{ t: number | null }>("SELECT min(created) AS t FROM frames").one().t;
  }
}
