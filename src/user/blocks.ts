/**
 * Blocks (PROTOCOL.md, Blocking, reports and conversation settings) live in
 * the blocker's object and are enforced where the blocker's data is touched
 * (DESIGN.md, v3 shapes): deliver() withholds a blocked user's direct
 * frames, live() their typing, presence answers them as a stranger. Nothing
 * needs the blocked user's object, so the hot path gains no RPC.
 *
 * The check runs on every frame that reaches the object, so it is a set in
 * memory, read from SQLite once per wake (hibernation erases it; the next
 * check reads it again) and kept in step by the only writers, below.
 */
import type { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import { isoSecond } from "../protocol/build.ts";
import { isGroupId, type SendFrame } from "../protocol/frames.ts";
import { ProtocolError } from "../protocol/parse.ts";
import type { User } from "./context.ts";
import { settingsChanged } from "./settings.ts";

export class Blocks {
  private cached: Set<string> | null = null;

  constructor(private readonly db: Db) {}

  /** Whether this user blocks `user`. */
  has(user: string): boolean {
    return this.set().has(user);
  }

  /** Whom this user blocks, oldest block first, for GET /v1/blocks. */
  list(): { user: string; since: string }[] {
    if (!this.db.exists) return [];
    return this.db.sql
      .exec<{ user: string; since: number }>("SELECT user, since FROM blocks ORDER BY since, user")
      .toArray()
      .map((r) => ({ user: r.user, since: isoSecond(r.since) }));
  }

  /** True if this made a block (a repeated one changes nothing: `since` stays). */
  add(user: string, now: number): boolean {
    const made = this.db.write.exec("INSERT INTO blocks (user, since) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", user, now);
    if (made.toArray().length === 0) return false;
    this.set().add(user);
    return true;
  }

  /** True if there was a block to lift. */
  remove(user: string): boolean {
    if (!this.db.exists) return false;
    if (this.db.sql.exec("DELETE FROM blocks WHERE user = ? RETURNING 1", user).toArray().length === 0) return false;
    this.set().delete(user);
    return true;
  }

  /** The object's storage was erased: nothing is blocked any more. */
  forget(): void {
    this.cached = null;
  }

  private set(): Set<string> {
    if (this.cached === null) {
      const users = this.db.exists ? this.db.sql.exec<{ user: string }>("SELECT user FROM blocks").toArray() : [];
      this.cached = new Set(users.map((r) => r.user));
    }
    return this.cached;
  }
}

/** PUT /v1/blocks/<user>: blocks, and tells the user's devices; a repeated block makes no frame. */
export function block(u: User, user: string, now: number): void {
  if (u.blocks.add(user, now)) settingsChanged(u, { block: { user, on: true } }, now);
}

/** DELETE /v1/blocks/<user>: lifts the block; what was withheld stays withheld. */
export function unblock(u: User, user: string, now: number): void {
  if (u.blocks.remove(user)) settingsChanged(u, { block: { user, on: false } }, now);
}

/**
 * Whether deliver() withholds a frame: a blocked user's direct message,
 * reply, edit, reaction or receipt. Their delete of a message this user
 * holds still erases it (it came before the block); one of a message that
 * was withheld has nothing to erase. Group frames flow: the group is shared.
 */
export function withheld(u: User, e: Envelope): boolean {
  if (isGroupId(e.recipient) || e.sender === u.me || !u.blocks.has(e.sender)) return false;
  return e.type !== "MESSAGE_DELETE" || e.ref === undefined || u.log.lookup(e.ref) === null;
}

/**
 * The user's own message, reply, edit or reaction to someone they block is
 * refused until they unblock (the other would never see an answer). Deleting
 * an earlier one is not: erasing what one wrote is always allowed.
 */
export function refuseBlocked(u: User, frame: SendFrame): void {
  if (frame.content !== "MESSAGE_DELETE" && !isGroupId(frame.to) && u.blocks.has(frame.to)) {
    throw new ProtocolError("FORBIDDEN", "you block this user: unblock first", frame.id);
  }
}
