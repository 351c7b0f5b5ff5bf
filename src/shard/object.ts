/**
 * One shard of a large group's fan-out tree (PROTOCOL.md, Large groups),
 * addressed as `<group id>#<n>`: the group object pushes it the group's log
 * in order with the spans of its members, and it delivers to each member's
 * object as the group object does for a small group (the same fan-out code,
 * on the same tables), so the group object makes one call per shard and a
 * shard one per member.
 *
 *   GroupObject ─push()─▶ frames + spans ─▶ fan-out ─RPC─▶ deliver() on each member's object
 *
 * It orders nothing and decides nothing: every frame has its gseq from the
 * group, and pushes are idempotent (a retried one changes nothing).
 */
import { DurableObject } from "cloudflare:workers";
import { Alarm } from "../alarm.ts";
import { Db } from "../db.ts";
import { FanOut, memberTransport } from "../group/fanout.ts";
import { GroupLog } from "../group/log.ts";
import type { ShardFrame, ShardSpan } from "../group/tree.ts";
import { ERASED_FRAME_SQL } from "../protocol/build.ts";
import { SAFETY_NET_MS } from "../retry.ts";
import { SHARD_MIGRATIONS } from "./schema.ts";

export class GroupShard extends DurableObject<Env> {
  private readonly db: Db;
  private readonly wake: Alarm;
  private readonly fanout: FanOut;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const name = ctx.id.name;
    if (name === undefined || !name.includes("#")) throw new Error("GroupShard must be addressed by name (getByName(shardName(group, n)))");
    this.db = new Db(ctx.storage, name, SHARD_MIGRATIONS);
    this.wake = new Alarm(ctx.storage);
    this.fanout = new FanOut(this.db, new GroupLog(this.db, name.slice(0, name.lastIndexOf("#"))), this.wake, memberTransport(env));
  }

  /** RPC from the group object: the next frames of its log, and the spans of this shard's members that changed. */
  push(frames: ShardFrame[], spans: ShardSpan[]): void {
    const now = Date.now();
    this.db.atomically(() => {
      const sql = this.db.write;
      // Frames every member's object has are no longer needed here (the group keeps its own log).
      sql.exec("DELETE FROM frames WHERE gseq <= coalesce((SELECT min(sent) FROM cursors), (SELECT max(gseq) FROM frames))");
      for (const s of spans) {
        if (s.until_gseq !== null && s.until_gseq < s.from_gseq) {
          // An erased member: nothing more goes to its object.
          sql.exec("DELETE FROM spans WHERE user = ?", s.user);
          sql.exec("DELETE FROM cursors WHERE user = ?", s.user);
          continue;
        }
        sql.exec(
          `INSERT INTO spans (user, from_gseq, until_gseq, prev) VALUES (?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET until_gseq = excluded.until_gseq`,
          s.user,
          s.from_gseq,
          s.until_gseq,
          s.prev,
        );
        sql.exec("INSERT INTO cursors (user, sent) VALUES (?, ?) ON CONFLICT DO NOTHING", s.user, s.from_gseq - 1);
      }
      for (const f of frames) {
        sql.exec(
          "INSERT INTO frames (gseq, id, sender, type, frame, origin, ref) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
          f.gseq,
          f.id,
          f.sender,
          f.type,
          f.frame,
          f.origin,
          f.ref,
        );
        // Deleted for everyone: the copy still waiting here for a member is erased too (DESIGN.md, invariant 6).
        if (f.type === "MESSAGE_DELETE") {
          sql.exec(`UPDATE frames SET frame = ${ERASED_FRAME_SQL} WHERE id = ?1 OR (ref = ?1 AND type = 'MESSAGE_EDIT')`, f.ref);
        }
      }
    });
    this.fanout.guard(now);
    this.ctx.waitUntil(this.fanout.flushAll(now));
  }

  /** RPC from the group object: frames for the open sockets of this shard's members (but `skip`'s), not stored. */
  live(frames: string[], skip: string | null): void {
    if (!this.db.exists) return;
    const users = this.db.sql.exec<{ user: string }>("SELECT DISTINCT user FROM spans WHERE until_gseq IS NULL").toArray();
    for (const { user } of users) {
      if (user === skip) continue;
      // Ephemeral: a member whose object fails misses it, as in a small group.
      this.ctx.waitUntil(
        this.env.USERS.getByName(user)
          .live(frames)
          .catch(() => undefined),
      );
    }
  }

  /** Fan-out retries. */
  override async alarm(): Promise<void> {
    this.wake.fired();
    await this.fanout.flushAll(Date.now());
    const next = this.fanout.due(Date.now() + SAFETY_NET_MS);
    if (next !== null) await this.wake.wakeBy(next);
  }
}
