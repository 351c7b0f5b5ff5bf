/**
 * What group fan-out and ephemeral events cost in RPCs between objects,
 * counted on the real objects' RPC methods (the spies pass every call
 * through, one with 20 ms of latency added): a burst to a group costs each
 * member a few deliver() calls, not one per message (<= 0.15 RPC per
 * delivered frame, against 1 unbatched; how many frames share a call depends
 * on how they arrive in turns, 0.09-0.12 on a loaded 2-core machine); TYPING at the throttle
 * limit costs one live() call per other member per second; a user's
 * transition costs one call per watcher; a burst to a 1,000-member group goes
 * through 10 shards, so the group object makes a few calls per shard and
 * each shard a few per member. Counts, not timings.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupObject } from "../../src/group/object.ts";
import { GroupShard } from "../../src/shard/object.ts";
import { UserObject } from "../../src/user/object.ts";
import { Client, createGroup, uniqueUser } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

async function members(n: number, prefix: string): Promise<Client[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => Client.connect(uniqueUser(`${prefix}${i}`))));
}

describe("RPCs per delivered frame", () => {
  it("a burst of 100 messages from 5 senders to a 20-member group costs at most 0.15 deliver() per delivered frame", async () => {
    const group = await members(20, "m");
    const id = await createGroup(
      group[0]!.user,
      group.slice(1).map((c) => c.user),
    );
    for (const c of group) await c.expect({ content: "GROUP_EVENT" });
    // Each delivery takes 20 ms, as an RPC to an object on another machine might; in-process it takes
    // microseconds, and every message would go out before the next arrived (nothing to batch).
    const original = UserObject.prototype.deliver;
    const deliver = vi.spyOn(UserObject.prototype, "deliver").mockImplementation(async function (this: UserObject, envelopes) {
      await new Promise((r) => setTimeout(r, 20));
      return original.call(this, envelopes);
    });
    // Five members send 20 messages each, all at once.
    const N = 100;
    for (let i = 0; i < N; i++) group[i % 5]!.send({ id: `b${i}`, to: id, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    await Promise.all(group.slice(5).map((c) => c.expectAll({ type: "USER_MSG", to: id }, N, 20_000)));
    await expect
      .poll(() => deliver.mock.calls.filter(([e]) => e[0]?.recipient === id).reduce((n, [e]) => n + e.length, 0), { timeout: 10_000 })
      .toBe(N * group.length);
    const calls = deliver.mock.calls.filter(([e]) => e[0]?.recipient === id).length;
    const frames = N * group.length;
    console.info(`group burst: ${calls} deliver() calls for ${frames} delivered frames (${(calls / frames).toFixed(3)} per frame)`);
    expect(calls / frames).toBeLessThanOrEqual(0.15);
  });
});

describe("ephemeral events", () => {
  it("TYPING at the throttle limit in a group costs one live() per other member per second", async () => {
    const group = await members(20, "t");
    const id = await createGroup(
      group[0]!.user,
      group.slice(1).map((c) => c.user),
    );
    for (const c of group) await c.expect({ content: "GROUP_EVENT" });
    const live = vi.spyOn(UserObject.prototype, "live");
    const typing = vi.spyOn(GroupObject.prototype, "typing");
    // A client repeating `true` far faster than the protocol's every 3 s: one second's worth.
    for (let i = 0; i < 10; i++) group[0]!.send({ type: "EVENT_MSG", content: "TYPING", to: id, message: true });
    await Promise.all(group.slice(1).map((c) => c.expect({ type: "EVENT_MSG", content: "TYPING" })));
    await group[0]!.expectNothingMore(200);
    expect(typing).toHaveBeenCalledTimes(1);
    expect(live).toHaveBeenCalledTimes(group.length - 1);
  });

  it("a user coming online costs one presenceChanged() per watcher, and a second socket costs none", async () => {
    const watched = uniqueUser("watched");
    const watchers = await members(5, "w");
    for (const w of watchers) {
      await w.message(watched, "hi");
      w.send({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [watched] });
      await w.expect({ content: "PRESENCE" });
    }
    const calls = vi.spyOn(UserObject.prototype, "presenceChanged");
    const first = await Client.connect(watched);
    await Promise.all(watchers.map((w) => w.expect({ content: "PRESENCE", message: { status: "online" } })));
    expect(calls).toHaveBeenCalledTimes(5);
    await first.expectAll({ type: "USER_MSG" }, 5);
    await Client.connect(watched);
    await first.expectNothingMore(100);
    expect(calls).toHaveBeenCalledTimes(5);
  });
});

describe("a 1,000-member group (PROTOCOL.md, Large groups)", () => {
  it("a burst of 20 messages: the group calls 10 shards, each shard its 100 members, no object more than a few hundred calls", async () => {
    const senders = await members(2, "big");
    const others = Array.from({ length: 998 }, (_, i) => uniqueUser(`k${i}`));
    const id = await createGroup(senders[0]!.user, [senders[1]!.user, ...others]);
    for (const c of senders) await c.expect({ content: "GROUP_EVENT" }, 120_000);
    const groupFrames = () =>
      runInDurableObject(
        env.GROUPS.getByName(id),
        (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM frames").one().n,
      );
    // Everyone has the created event before the burst is counted (1,000 objects are created meanwhile).
    await expect.poll(() => behind(id), { timeout: 300_000, interval: 1000 }).toBe(0);
    const push = vi.spyOn(GroupShard.prototype, "push");
    const original = UserObject.prototype.deliver;
    const perMember = new Map<string, number>();
    vi.spyOn(UserObject.prototype, "deliver").mockImplementation(async function (this: UserObject, envelopes) {
      if (envelopes[0]?.recipient === id) perMember.set(this.ctx.id.name!, (perMember.get(this.ctx.id.name!) ?? 0) + 1);
      // 20 ms, as a call to an object on another machine might take (see the burst above).
      await new Promise((r) => setTimeout(r, 20));
      return original.call(this, envelopes);
    });
    const N = 20;
    for (let i = 0; i < N; i++) senders[i % 2]!.send({ id: `k${i}`, to: id, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    await expect.poll(groupFrames, { timeout: 120_000 }).toBe(N + 1);
    await expect.poll(() => behind(id), { timeout: 300_000, interval: 1000 }).toBe(0);
    for (const c of senders) await c.expectAll({ type: "USER_MSG", to: id }, N / 2, 60_000);
    expect(perMember.size).toBe(1000);
    const perShard = new Map<unknown, number>();
    for (const instance of push.mock.instances) perShard.set(instance, (perShard.get(instance) ?? 0) + 1);
    const shardCalls = [...perShard.values()];
    const memberCalls = [...perMember.values()];
    const framesPerPush = push.mock.calls.reduce((n, [frames]) => n + frames.length, 0) / push.mock.calls.length;
    console.info(
      `1,000 members, ${N} messages: group -> ${perShard.size} shards, ${push.mock.calls.length} push() calls (${framesPerPush.toFixed(1)} frames each); ` +
        `each shard receives at most ${Math.max(...shardCalls)} push() and makes at most ${Math.max(...memberCalls) * 100} deliver() calls; ` +
        `each member receives at most ${Math.max(...memberCalls)} deliver() (${(memberCalls.reduce((a, b) => a + b, 0) / 1000).toFixed(2)} on average)`,
    );
    expect(perShard.size).toBe(10);
    // The group object makes one push per shard per batch; a batch takes what arrived meanwhile.
    expect(push.mock.calls.length).toBeLessThanOrEqual(10 * N);
    // No object makes or receives more than a few hundred calls for the burst: each shard calls its 100 members a few times.
    expect(Math.max(...memberCalls)).toBeLessThanOrEqual(N);
    expect(Math.max(...memberCalls) * 100).toBeLessThanOrEqual(1000);
  }, 900_000);
});

/** The group's shards that do not have its whole log yet, plus their members' objects that do not. */
async function behind(id: string): Promise<number> {
  const { latest, shards } = await runInDurableObject(env.GROUPS.getByName(id), (_o, s) => ({
    latest: s.storage.sql.exec<{ g: number }>("SELECT max(gseq) AS g FROM frames").one().g,
    shards: s.storage.sql.exec<{ shard: number; sent: number }>("SELECT shard, sent FROM shards").toArray(),
  }));
  let n = shards.filter((x) => x.sent < latest).length;
  for (const { shard } of shards) {
    n += await runInDurableObject(
      env.SHARDS.getByName(`${id}#${shard}`),
      (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM cursors WHERE sent < ?", latest).one().n,
    );
  }
  return n;
}
