/**
 * Who is in the group, with what role, since when, and how far each has
 * read; and the spans that say which frames each (present or former) member
 * receives: a member added by the event at gseq G gets G and everything
 * after it, until the event that removes it, which is its last. A former
 * member's spans stay known (former_spans) for erasures.
 */
import type { Db } from "../db.ts";
import type { GroupRole, ReceiptContent } from "../protocol/frames.ts";

export interface Member extends Record<string, SqlStorageValue> {
  user: string;
  role: GroupRole;
  joined: number;
  position: number;
  delivered_gseq: number | null;
  delivered_id: string | null;
  read_gseq: number | null;
  read_id: string | null;
}

export class Members {
  constructor(private readonly db: Db) {}

  get(user: string): Member | null {
    if (!this.db.exists) return null;
    return this.db.sql.exec<Member>("SELECT * FROM members WHERE user = ?", user).toArray()[0] ?? null;
  }

  /** Every member, longest-standing first. */
  all(): Member[] {
    if (!this.db.exists) return [];
    return this.db.sql.exec<Member>("SELECT * FROM members ORDER BY position").toArray();
  }

  count(): number {
    if (!this.db.exists) return 0;
    return this.db.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members").one().n;
  }

  /** Adds a member whose first frame is the one at `from` (the event that adds it). */
  add(user: string, role: GroupRole, from: number, now: number): void {
    const sql = this.db.write;
    sql.exec(
      `INSERT INTO members (user, role, joined, position) VALUES (?, ?, ?, coalesce((SELECT max(position) FROM members), 0) + 1)`,
      user,
      role,
      now,
    );
    sql.exec("INSERT INTO spans (user, from_gseq) VALUES (?, ?)", user, from);
    // A former member still being sent its old span keeps its place.
    sql.exec("INSERT INTO cursors (user, sent) VALUES (?, ?) ON CONFLICT DO NOTHING", user, from - 1);
  }

  /** Removes a member whose last frame is the one at `until` (the event that removes it). */
  remove(user: string, until: number): void {
    this.db.sql.exec("DELETE FROM members WHERE user = ?", user);
    const closed = this.db.sql
      .exec<{ from_gseq: number }>("UPDATE spans SET until_gseq = ? WHERE user = ? AND until_gseq IS NULL RETURNING from_gseq", until, user)
      .toArray();
    for (const { from_gseq } of closed) {
      this.db.sql.exec("INSERT INTO former_spans (user, from_gseq, until_gseq) VALUES (?, ?, ?)", user, from_gseq, until);
    }
  }

  /** Removes a member and everything still owed to it: its object gets nothing more, not even an erasure. */
  forget(user: string): void {
    this.db.sql.exec("DELETE FROM members WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM spans WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM former_spans WHERE user = ?", user);
    this.db.sql.exec("DELETE FROM cursors WHERE user = ?", user);
  }

  /**
   * The delete at `del` of the message at `message` also goes to each former
   * member that received the message and whose spans do not reach the
   * delete: a span of the delete alone, so its object erases its copy
   * (DESIGN.md invariant 6). The fan-out drops the span once delivered.
   */
  owedErasure(message: number, del: number): void {
    const sql = this.db.sql;
    const users = sql
      .exec<{ user: string }>(
        `INSERT INTO spans (user, from_gseq, until_gseq)
         SELECT DISTINCT f.user, ?2, ?2 FROM former_spans f WHERE f.from_gseq <= ?1 AND f.until_gseq >= ?1
           AND NOT EXISTS (SELECT 1 FROM spans s WHERE s.user = f.user AND s.from_gseq <= ?2 AND (s.until_gseq IS NULL OR s.until_gseq >= ?2))
         ON CONFLICT DO NOTHING RETURNING user`,
        message,
        del,
      )
      .toArray();
    for (const { user } of users) sql.exec("INSERT INTO cursors (user, sent) VALUES (?, ?) ON CONFLICT DO NOTHING", user, del - 1);
  }

  setRole(user: string, role: GroupRole): void {
    this.db.sql.exec("UPDATE members SET role = ? WHERE user = ?", role, user);
  }

  admins(): number {
    return this.db.sql.exec<{ n: number }>("SELECT count(*) AS n FROM members WHERE role = 'admin'").one().n;
  }

  /** A member's delivered/read watermark moves to the message at `gseq`, never back. */
  watermark(user: string, content: ReceiptContent, gseq: number, id: string): void {
    const [g, i] = content === "MESSAGE_READ" ? ["read_gseq", "read_id"] : ["delivered_gseq", "delivered_id"];
    this.db.sql.exec(`UPDATE members SET ${g} = ?, ${i} = ? WHERE user = ? AND coalesce(${g}, 0) < ?`, gseq, id, user, gseq);
  }
}
