/**
 * The member's object as the judge of its own order in a group (user/order.ts),
 * where the fan-out tree makes it matter, on real objects: a delivery that
 * fails after the frames were admitted and is retried loses nothing; a
 * moved member whose old fan-out object is slow is asked again by its new one
 * within a second each time, so it has the rest promptly once the old one
 * delivers; a delete for everyone owed to a former span of a member (moved,
 * or removed) makes it skip nothing its shard still owes it, its removal
 * event included. It does not measure speed.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Envelope } from "../../src/envelope.ts";
import { UserLog } from "../../src/user/log.ts";
import { UserObject } from "../../src/user/object.ts";
import { apiJson, type Client, type Frame, uniqueUser } from "../worker/helpers.ts";
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

/** What `user`'s object logged of the group, in log order: messages by id, deletes by what they delete, events by name. */
function logged(user: string, group: string): Promise<string[]> {
  return runInDurableObject(env.USERS.getByName(user), (_o, s) =>
    s.storage.sql
      .exec<{ id: string; type: string; frame: string; ref: string | null }>(
        "SELECT id, type, frame, ref FROM log WHERE conversation = ? ORDER BY seq",
        group,
      )
      .toArray()
      .map((r) =>
        r.type === "GROUP_EVENT" ? (JSON.parse(r.frame) as Frame).message.event : r.type === "MESSAGE_DELETE" ? `delete ${r.ref}` : r.id,
      ),
  );
}

/** Deletes a message of the group for everyone; the ack. */
function deleteForEveryone(c: Client, group: string, ref: string): Promise<Frame> {
  const id = crypto.randomUUID();
  c.send({ id, to: group, type: "USER_MSG", content: "MESSAGE_DELETE", ref });
  return c.ack(id);
}

/** Waits until the group object has logged the frame `id` and owes `user` nothing of its own fan-out. */
async function groupDone(group: string, id: string, user: string): Promise<void> {
  await expect
    .poll(() =>
      runInDurableObject(env.GROUPS.getByName(group), (_o, s) => ({
        logged: s.storage.sql.exec("SELECT 1 FROM frames WHERE id = ?", id).toArray().length,
        owing: s.storage.sql.exec("SELECT 1 FROM cursors WHERE user = ?", user).toArray().length,
      })),
    )
    .toEqual({ logged: 1, owing: 0 });
}

/** Runs a shard's alarm until `done` holds (a retry is due within a second or two of a failure). */
async function retriedUntil<T>(shard: string, done: () => Promise<T>, expected: T): Promise<void> {
  await expect
    .poll(
      async () => {
        await runDurableObjectAlarm(env.SHARDS.getByName(shard));
        return done();
      },
      { timeout: 10_000, interval: 200 },
    )
    .toEqual(expected);
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

  it("a delete for everyone of a message from before a member's move does not make it skip what its new shard still owes it", async () => {
    const { id, members } = await connectedGroup(3, "dm");
    const [admin, , moved] = members as [Client, Client, Client];
    const early = await admin.message(id, "before the move");
    await moved.expect({ type: "USER_MSG", id: early.message });
    const target = await objectOf(moved.user);
    // The new shard's calls (its frames follow the event that moved the member) fail until unblocked.
    let blocked = true;
    const deliver = UserObject.prototype.deliver;
    vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
      if (this === target && blocked && envelopes.some((e) => e.after !== undefined)) return Promise.reject(new Error("shard's call lost"));
      return deliver.call(this, envelopes);
    });
    await apiJson(admin.user, "POST", `/v1/groups/${id}/members`, { user: uniqueUser("dm3") });
    expect(await placement(id)).toEqual({ "shard 0": 3, "shard 1": 1 });
    await moved.expect({ content: "GROUP_EVENT", message: { event: "member_added" } });
    const later = await admin.message(id, "after the move");
    const gone = await deleteForEveryone(admin, id, early.message as string);
    await groupDone(id, gone.message as string, moved.user);
    blocked = false;
    await retriedUntil(`${id}#0`, () => logged(moved.user, id), [
      "created",
      early.message,
      "member_added",
      later.message,
      `delete ${early.message}`,
    ]);
    expect((await moved.expect({ type: "USER_MSG", id: later.message })).message).toBe("after the move");
    expect(await moved.expect({ content: "MESSAGE_DELETE" })).toMatchObject({ ref: early.message });
    await moved.expectNothingMore();
  });

  it("a delete for everyone reaches a removed member after its removal event, from the shard that delivered its last frames", async () => {
    const { id, members } = await connectedGroup(4, "dr");
    const [admin, , , leaver] = members as [Client, Client, Client, Client];
    const early = await admin.message(id, "to be deleted");
    await leaver.expect({ type: "USER_MSG", id: early.message });
    const shard = await runInDurableObject(
      env.GROUPS.getByName(id),
      (_o, s) => s.storage.sql.exec<{ shard: number }>("SELECT shard FROM members WHERE user = ?", leaver.user).one().shard,
    );
    const target = await objectOf(leaver.user);
    // The shard's call that brings the member its removal fails until unblocked.
    let blocked = true;
    const removal = (e: Envelope) => e.type === "GROUP_EVENT" && (JSON.parse(e.frame) as Frame).message.event === "member_removed";
    const deliver = UserObject.prototype.deliver;
    vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
      if (this === target && blocked && envelopes.some(removal)) return Promise.reject(new Error("shard's call lost"));
      return deliver.call(this, envelopes);
    });
    await apiJson(admin.user, "DELETE", `/v1/groups/${id}/members/${leaver.user}`);
    const gone = await deleteForEveryone(admin, id, early.message as string);
    await groupDone(id, gone.message as string, leaver.user);
    blocked = false;
    await retriedUntil(`${id}#${shard}`, () => logged(leaver.user, id), [
      "created",
      early.message,
      "member_removed",
      `delete ${early.message}`,
    ]);
    expect(await leaver.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } })).toMatchObject({ to: id });
    expect(await leaver.expect({ content: "MESSAGE_DELETE" })).toMatchObject({ ref: early.message });
    // Its object knows it left: a message to the group is refused at once.
    leaver.send({ id: "after-removal", to: id, type: "USER_MSG", content: "TEXT_MESSAGE", message: "still here?" });
    expect((await leaver.error("after-removal")).message).toMatchObject({ code: "FORBIDDEN" });
  });
});
