/**
 * What group fan-out and ephemeral events cost in RPCs between objects,
 * counted on the real objects' RPC methods (the spies pass every call
 * through, one with 20 ms of latency added): a burst to a group costs each
 * member a few deliver() calls, not one per message (<= 0.15 RPC per
 * delivered frame, against 1 unbatched; how many frames share a call depends
 * on how they arrive in turns, 0.09-0.12 on a loaded 2-core machine); TYPING at the throttle
 * limit costs one live() call per other member per second; a user's
 * transition costs one call per watcher. Counts, not timings.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupObject } from "../../src/group/object.ts";
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
