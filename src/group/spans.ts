/**
 * Which frames each (present or former) member receives, and from which of
 * the group's fan-out objects: a member added by the event at gseq G gets G
 * and everything after it, until the event that removes it, which is its
 * last. A span is delivered by the group object itself (`spans`, with a
 * cursor per member) or by a shard (`shard_spans`, told to the shard with
 * the log: tree.ts). Moving a member closes its span at the event just
 * logged and opens one on the new object from the next frame, which says it
 * follows that event (`prev`), so the member's object takes nothing from
 * the new one before the old one has delivered everything up to it.
 */
import type { Db } from "../db.ts";

/** A fan-out object: a shard's number, or null for the group object itself. */
export type Deliverer = number | null;

export class Spans {
  constructor(private readonly db: Db) {}

  /** `user`'s frames from `from` on come from `by`, after the frame at `prev` (0: none to wait for). */
  open(user: string, from: number, prev: number, by: Deliverer): void {
    const sql = this.db.write;
    if (by === null) {
      sql.exec("INSERT INTO spans (user, from_gseq, prev) VALUES (?, ?, ?)", user, from, prev);
      // A former member still being sent its old span keeps its place.
      sql.exec("INSERT INTO cursors (user, sent) VALUES (?, ?) ON CONFLICT DO NOTHING", user, from - 1);
      return;
    }
    sql.exec(
      "INSERT INTO shard_spans (user, from_gseq, until_gseq, prev, shard, rev) VALUES (?, ?, NULL, ?, ?, ?)",
      user,
      from,
      prev,
      by,
      from,
    );
    sql.exec("INSERT INTO shards (shard, sent) VALUES (?, ?) ON CONFLICT DO NOTHING", by, from - 1);
  }

  /** `user`'s frames from `by` end with the one at `until`. */
  close(user: string, until: number, by: Deliverer): void {
    if (by === null) this.db.sql.exec("UPDATE spans SET until_gseq = ? WHERE user = ? AND until_gseq IS NULL", until, user);
    else this.db.sql.exec("UPDATE shard_spans SET until_gseq = ?, rev = ? WHERE user = ? AND until_gseq IS NULL", until, until, user);
  }

  /** From the frame after `at`, `user`'s frames come from `to` instead of `from`. */
  move(user: string, at: number, from: Deliverer, to: Deliverer): void {
    // The part before the move is remembered as at a removal (depart), or the old object would forget it
    // once delivered, and a later delete for everyone could not find who received a message in it.
    this.db.sql.exec(
      `INSERT INTO former_spans (user, from_gseq, until_gseq) SELECT user, from_gseq, ? FROM ${from === null ? "spans" : "shard_spans"}
       WHERE user = ? AND until_gseq IS NULL ON CONFLICT DO NOTHING`,
      at,
      user,
    );
    this.close(user, at, from);
    this.open(user, at + 1, at, to);
  }

  /**
   * Nothing more goes to `user` from `by` (an erased user): its spans here
   * go, and a shard is told by an empty span (until before from) at `at`.
   */
  drop(user: string, at: number, by: Deliverer): void {
    this.db.sql.exec("DELETE FROM spans WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM cursors WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM shard_spans WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM former_spans WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM departed WHERE user = ?", user);
    if (by !== null) {
      this.db.sql.exec(
        "INSERT INTO shard_spans (user, from_gseq, until_gseq, prev, shard, rev) VALUES (?, ?, ?, 0, ?, ?)",
        user,
        at,
        at - 1,
        by,
        at,
      );
    }
  }

  /**
   * A member removed by the event at `until`, last delivered by `by`:
   * remembered for an add back, and its spans (any object's) kept as
   * former_spans, so a later delete for everyone of a message it received
   * still reaches it (Members.owedErasure).
   */
  depart(user: string, until: number, by: Deliverer): void {
    this.close(user, until, by);
    for (const table of ["spans", "shard_spans"]) {
      this.db.sql.exec(
        `INSERT INTO former_spans (user, from_gseq, until_gseq) SELECT user, from_gseq, until_gseq FROM ${table}
         WHERE user = ? AND until_gseq IS NOT NULL AND until_gseq >= from_gseq ON CONFLICT DO UPDATE SET until_gseq = excluded.until_gseq`,
        user,
      );
    }
    this.db.sql.exec(
      "INSERT INTO departed (user, shard, until_gseq) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET shard = excluded.shard, until_gseq = excluded.until_gseq",
      user,
      by,
      until,
    );
  }

  /**
   * The delete at `del` of the message at `message` also goes to each former
   * member that received the message (a member now has it in its open span):
   * a span of the delete alone, so its object erases its copy (DESIGN.md
   * invariant 6). It is delivered by the object that delivered the member's
   * last frames, after them: from another, it could overtake them (its
   * removal event, or a moved member's frames from its new shard), and the
   * member's object would skip them as had (user/order.ts). The fan-out
   * drops the span once delivered.
   */
  owedErasure(message: number, del: number): void {
    const owed = this.db.sql
      .exec<{ user: string; shard: number | null }>(
        `SELECT DISTINCT f.user, d.shard FROM former_spans f LEFT JOIN departed d ON d.user = f.user
         WHERE f.from_gseq <= ?1 AND f.until_gseq >= ?1 AND NOT EXISTS (SELECT 1 FROM members m WHERE m.user = f.user)`,
        message,
      )
      .toArray();
    for (const { user, shard } of owed) {
      this.open(user, del, 0, shard);
      this.close(user, del, shard);
    }
  }

  /**
   * What a member added back must wait for: nothing if its old frames come
   * from the object it joins (that object keeps them in order), else the
   * last of them. Forgets the departure.
   */
  returning(user: string, to: Deliverer): number {
    const gone = this.db.sql
      .exec<{ shard: number | null; until_gseq: number }>("DELETE FROM departed WHERE user = ? RETURNING shard, until_gseq", user)
      .toArray()[0];
    return gone === undefined || gone.shard === to ? 0 : gone.until_gseq;
  }
}
