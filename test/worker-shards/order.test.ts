/**
 * The member's object as the judge of its own order in a group (user/order.ts),
 * where the fan-out tree makes it matter, on real objects: a delivery that
 * fails after the frames were admitted and is retried loses nothing; a
 * moved member whose old fan-out object is slow is asked again by its new one
 * within a second each time, so it has the rest promptly once the old one
 * delivers. It does not measure speed.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Envelope } from "../../src/envelope.ts";
import { UserLog } from "../../src/user/log.ts";
import { UserObject } from "../../src/user/object.ts";
import { apiJson, uniqueUser } from "../worker/helpers.ts";
import { connectedGroup, groupLog, groupOrder, placement } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The object of `user`, as the runtime calls it (to tell its calls apart in a spy). */
const objectOf = (user: string) => runInDurableObject(env.USERS.getByName(user), (o: UserObject) => o);

/** A fan-out object's cursor for `user`: when it next calls the user's object (0: not waiting), and the failures in a row. */
function cursorOf(name: string, user: string): Promise<{ due: number; attempts: number; now: number }> {
  const stub = name.includes("#") ? env.SHARDS.getByName(name) : env.GROUPS.getByName(name);
  return runInDurableObject(stub, (_o, s) => ({
    ...s.storage.sql.exec<{ due: number; attempts: number }>("SELECT due, attempts FROM cursors WHERE user = ?", user).one(),
    now: Date.now(),
  }));
}

describe("a member's object keeps its order through the tree", () => {
  it("a delivery that throws after its frames were admitted is retried by the alarm and loses nothing", async () => {
    const { id, members } = await connectedGroup(4, "rb");
    const failing = members[3]!;
    const target = await objectOf(failing.user);
    // The first delivery of a message to this member throws while logging it, after admit() took its gseq.
    const append = UserLog.prototype.append;
    let thrown = 0;
    vi.spyOn(UserLog.prototype, "append").mockImplementation(function (this: UserLog, envelope: Envelope, ...rest) {
      if (
        envelope.type === "USER_MSG" &&
        envelope.recipient === id &&
        thrown === 0 &&
        (target as unknown as { user: { log: UserLog } }).user.log === this
      ) {
        thrown++;
        throw new Error("disk full");
      }
      return append.call(this, envelope, ...rest);
    });
    const acks = [await members[0]!.message(id, "one"), await members[1]!.message(id, "two")];
    await expect.poll(() => thrown).toBe(1);
    const shard = await runInDurableObject(
      env.GROUPS.getByName(id),
      (_o, s) => s.storage.sql.exec<{ shard: number }>("SELECT shard FROM members WHERE user = ?", failing.user).one().shard,
    );
    // The failure's retry is due within a second; the shard's alarm runs it.
    await new Promise((r) => setTimeout(r, 1100));
    await runDurableObjectAlarm(env.SHARDS.getByName(`${id}#${shard}`));
    expect((await failing.expectAll({ type: "USER_MSG", to: id }, 2, 20_000)).map((f) => f.id)).toEqual(acks.map((a) => a.message));
    await failing.expectNothingMore();
    expect(await groupLog(failing.user, id)).toEqual(await groupOrder(id));
  });

  it("a moved member whose old fan-out object is slow is asked again within a second each time, and has the rest once the old one delivers", async () => {
    const { id, members } = await connectedGroup(3, "mv");
    expect(await placement(id)).toEqual({ direct: 3 });
    const moved = members[2]!;
    const target = await objectOf(moved.user);
    // The group object's last delivery to the member (its span ends at the event that moves it) hangs until released.
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const fromShard: number[] = [];
    const deliver = UserObject.prototype.deliver;
    vi.spyOn(UserObject.prototype, "deliver").mockImplementation(async function (this: UserObject, envelopes) {
      if (this === target) {
        if (envelopes.every((e) => e.after === undefined)) await released;
        else fromShard.push(Date.now());
      }
      return deliver.call(this, envelopes);
    });
    // A fourth member: the group needs 2 shards, and its three members move to shard 0.
    await apiJson(members[0]!.user, "POST", `/v1/groups/${id}/members`, { user: uniqueUser("mv3") });
    expect(await placement(id)).toEqual({ "shard 0": 3, "shard 1": 1 });
    const ack = await members[0]!.message(id, "after the move");
    // Shard 0 has the message, which follows the event the group object has not delivered: the member's object
    // answers "wait" each time, and shard 0 asks again within a second however often it answered so.
    const shard = `${id}#0`;
    for (let n = 1; n <= 6; n++) {
      await expect
        .poll(
          async () => {
            await runDurableObjectAlarm(env.SHARDS.getByName(shard));
            return fromShard.length;
          },
          { timeout: 3000, interval: 100 },
        )
        .toBeGreaterThanOrEqual(n);
      const { due, attempts, now } = await cursorOf(shard, moved.user);
      expect(attempts).toBe(0);
      expect(due - now).toBeLessThanOrEqual(1000);
    }
    expect(moved.frames.filter((f) => f.type === "USER_MSG")).toEqual([]);
    release();
    expect(await moved.expect({ content: "GROUP_EVENT", message: { event: "member_added" } })).toBeTruthy();
    await expect
      .poll(
        async () => {
          await runDurableObjectAlarm(env.SHARDS.getByName(shard));
          return moved.frames.filter((f) => f.type === "USER_MSG").map((f) => f.id);
        },
        { timeout: 3000, interval: 100 },
      )
      .toEqual([ack.message]);
    expect((await moved.expectAll({ type: "USER_MSG", to: id }, 1)).map((f) => f.id)).toEqual([ack.message]);
    await moved.expectNothingMore();
    expect(await groupLog(moved.user, id)).toEqual(await groupOrder(id));
  });
});
