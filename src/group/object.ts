/**
 * One Durable Object per group (`group:<uuid>`): the ordering authority.
 * It checks membership, gives every message and change its place in the
 * group's one order, commits once, and fans out to each member's object:
 *
 *   member's outbox ─RPC─▶ post() ─▶ log (gseq) ─▶ fan-out ─RPC─▶ deliver() on each member's object
 *
 * The class only wires the runtime's entry points to the modules beside it.
 */
import { DurableObject } from "cloudflare:workers";
import { Alarm } from "../alarm.ts";
import { readConfig } from "../config.ts";
import { Db } from "../db.ts";
import type { Envelope } from "../envelope.ts";
import type { GroupRole } from "../protocol/frames.ts";
import { SAFETY_NET_MS, withOneRetry } from "../retry.ts";
import type { Group } from "./context.ts";
import { Ephemeral } from "./ephemeral.ts";
import { FanOut, memberTransport } from "./fanout.ts";
import { GroupLog } from "./log.ts";
import { Members } from "./members.ts";
import * as membership from "./membership.ts";
import { notice, post, type Refused, sendLive } from "./post.ts";
import { GROUP_MIGRATIONS } from "./schema.ts";
import { Spans } from "./spans.ts";
import { type ShardFrame, type ShardSpan, shardName, Tree } from "./tree.ts";
import type { GroupResult } from "./view.ts";

export class GroupObject extends DurableObject<Env> {
  private readonly group: Group;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const id = ctx.id.name;
    if (id === undefined) throw new Error("GroupObject must be addressed by name (getByName(groupId))");
    const db = new Db(ctx.storage, id, GROUP_MIGRATIONS);
    const alarm = new Alarm(ctx.storage);
    const log = new GroupLog(db, id);
    const toShard = (shard: number, frames: ShardFrame[], spans: ShardSpan[]) =>
      withOneRetry(() => env.SHARDS.getByName(shardName(id, shard)).push(frames, spans));
    this.group = {
      id,
      ctx,
      env,
      config: readConfig(env),
      db,
      log,
      members: new Members(db),
      spans: new Spans(db),
      fanout: new FanOut(db, log, alarm, memberTransport(env)),
      tree: new Tree(db, alarm, toShard),
      alarm,
      ephemeral: new Ephemeral(),
    };
  }

  create(req: membership.NewGroup): GroupResult {
    return this.change(() => membership.create(this.group, req, Date.now()));
  }

  get(actor: string): GroupResult {
    return membership.get(this.group, actor);
  }

  /** Whether the user is a member now (a file of the group is theirs to upload to and download). */
  isMember(user: string): boolean {
    return this.group.members.get(user) !== null;
  }

  rename(actor: string, name: string): GroupResult {
    return this.change(() => membership.rename(this.group, actor, name, Date.now()));
  }

  /** `refused`: the user blocks the actor (the routes asked them); the group's own checks answer first. */
  addMember(actor: string, user: string, role: GroupRole, refused = false): GroupResult {
    return this.change(() => membership.add(this.group, actor, user, role, refused, Date.now()));
  }

  /** A batch of up to 1,000: those already in the group are skipped; `refused` as for one. */
  addMembers(actor: string, users: string[], role: GroupRole, refused = false): GroupResult {
    return this.change(() => membership.addMany(this.group, actor, users, role, refused, Date.now()));
  }

  setRole(actor: string, user: string, role: GroupRole): GroupResult {
    return this.change(() => membership.setRole(this.group, actor, user, role, Date.now()));
  }

  removeMember(actor: string, user: string): GroupResult {
    return this.change(() => membership.remove(this.group, actor, user, Date.now()));
  }

  /** The server API erased this member: it leaves, and gets nothing more. */
  forgetMember(user: string): GroupResult {
    return this.change(() => membership.forget(this.group, user, Date.now()));
  }

  /** RPC from a member's outbox: messages and receipts. Returns the messages refused (their senders had left). */
  post(envelopes: Envelope[]): Refused[] {
    const now = Date.now();
    const refused = post(this.group, envelopes, now);
    this.fanOut(now);
    return refused;
  }

  /** TYPING from a member: to every other member's object (through the shards in a large group), live only; nothing is stored. */
  typing(from: string, frame: string, typing: boolean): void {
    const g = this.group;
    if (!g.members.get(from) || !g.ephemeral.typingPasses(from, typing, g.members.count(), Date.now())) return;
    // Ephemeral: a member (or shard) whose object fails misses one "typing…", which the next replaces.
    for (const user of g.members.on(null)) {
      if (user !== from)
        g.ctx.waitUntil(
          g.env.USERS.getByName(user)
            .live([frame])
            .catch(() => undefined),
        );
    }
    for (const shard of g.tree.active()) {
      g.ctx.waitUntil(
        g.env.SHARDS.getByName(shardName(g.id, shard))
          .live([frame], from)
          .catch(() => undefined),
      );
    }
  }

  /** The server API's notice to every member (idempotent by `key`); null if there is no such group. */
  notice(key: string, rawMessage: string): { id: string; time: string } | null {
    if (!membership.exists(this.group)) return null;
    const now = Date.now();
    const sent = notice(this.group, key, rawMessage, now);
    this.fanOut(now);
    return sent;
  }

  /** Fan-out retries and retention. */
  override async alarm(): Promise<void> {
    const g = this.group;
    g.alarm.fired();
    const now = Date.now();
    sendLive(g, g.ephemeral.release(now));
    await Promise.all([g.fanout.flushAll(now), g.tree.flushAll(now)]);
    const oldest = g.log.prune(now - g.config.retentionMs) ?? Infinity;
    const fallback = Date.now() + SAFETY_NET_MS;
    const next = Math.min(
      oldest + g.config.retentionMs,
      g.fanout.due(fallback) ?? Infinity,
      g.tree.due(fallback) ?? Infinity,
      g.ephemeral.due() ?? Infinity,
    );
    if (next !== Infinity) await g.alarm.wakeBy(next);
  }

  /** Runs a change; anything it logged is fanned out after the commit, with the safety net set in it. */
  private change(fn: () => GroupResult): GroupResult {
    const result = this.group.db.atomically(fn);
    if (result.ok) this.fanOut(Date.now());
    return result;
  }

  private fanOut(now: number): void {
    this.group.fanout.guard(now);
    this.group.ctx.waitUntil(this.group.fanout.flushAll(now));
    this.group.ctx.waitUntil(this.group.tree.flushAll(now));
  }
}
