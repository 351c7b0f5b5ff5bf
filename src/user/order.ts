/**
 * A group's frames reach a member from the group object or from one of its
 * shards, and a member is moved between them as the group grows and shrinks
 * (PROTOCOL.md, Large groups). The member's object is the judge of its own
 * order: it keeps the last gseq it took of each group, takes a frame once
 * (a retried batch, two fan-out objects around a move), and not before the
 * frame its new fan-out object says it follows (`after`), which the old one
 * is still delivering; the sender of the batch asks again within a second
 * (group/fanout.ts).
 */
import type { Envelope } from "../envelope.ts";
import type { GroupEventFrame } from "../protocol/frames.ts";
import type { User } from "./context.ts";

export type Admission = "take" | "have" | "wait";

export class GroupOrder {
  /** The last gseq taken per group in this delivery, to be saved with its frames. */
  private readonly taken = new Map<string, number>();

  constructor(private readonly u: User) {}

  admit(e: Envelope): Admission {
    if (e.gseq === undefined) return "take";
    const have = this.have(e.recipient);
    if (e.gseq <= have) return "have";
    // An object that has no place yet in this group (new, or erased since) starts at the event that adds it.
    if ((e.after ?? 0) > have && !(have === 0 && addsMe(this.u.me, e))) return "wait";
    this.taken.set(e.recipient, e.gseq);
    return "take";
  }

  /** One row per group per delivery, in the same commit as the frames. */
  save(): void {
    for (const [group, gseq] of this.taken) {
      this.u.db.write.exec(
        "INSERT INTO group_cursors (group_id, gseq) VALUES (?, ?) ON CONFLICT DO UPDATE SET gseq = max(gseq, excluded.gseq)",
        group,
        gseq,
      );
    }
  }

  private have(group: string): number {
    const taken = this.taken.get(group);
    if (taken !== undefined) return taken;
    if (!this.u.db.exists) return 0;
    return this.u.db.sql.exec<{ gseq: number }>("SELECT gseq FROM group_cursors WHERE group_id = ?", group).toArray()[0]?.gseq ?? 0;
  }
}

/** Whether a group frame is an event that makes this user a member. */
export function addsMe(me: string, e: Envelope): boolean {
  if (e.type !== "GROUP_EVENT") return false;
  // The frame is the group object's own, never a client's payload.
  const { message: event } = JSON.parse(e.frame) as GroupEventFrame;
  return (
    (event.event === "created" || event.event === "member_added") &&
    (event.user === me || event.members?.some((m) => m.user === me) === true)
  );
}
