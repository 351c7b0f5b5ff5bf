/**
 * Who is in the group, with what role, since when, how far each has read,
 * and which fan-out object delivers to it (the spans that say which frames
 * each receives are spans.ts's).
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
  /** Which shard delivers to it; null: the group object itself. */
  shard: number | null;
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

  /** Adds a member, delivered to by `shard` (null: this object); its spans are spans.ts's. */
  add(user: string, role: GroupRole, now: number, shard: number | null): void {
    this.db.write.exec(
      `INSERT INTO members (user, role, joined, position, shard) VALUES (?, ?, ?, coalesce((SELECT max(position) FROM members), 0) + 1, ?)`,
      user,
      role,
      now,
      shard,
    );
  }

  remove(user: string): void {
    this.db.sql.exec("DELETE FROM members WHERE user = ?", user);
  }

  /** How many members each fan-out object delivers to (null: this object). */
  perShard(): Map<number | null, number> {
    const rows = this.db.sql.exec<{ shard: number | null; n: number }>("SELECT shard, count(*) AS n FROM members GROUP BY shard").toArray();
    return new Map(rows.map((r) => [r.shard, r.n]));
  }

  /** The members delivered to by `shard` (null: this object). */
  on(shard: number | null): string[] {
    return this.db.sql
      .exec<{ user: string }>("SELECT user FROM members WHERE shard IS ? ORDER BY position", shard)
      .toArray()
      .map((r) => r.user);
  }

  setShard(user: string, shard: number | null): void {
    this.db.sql.exec("UPDATE members SET shard = ? WHERE user = ?", shard, user);
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
