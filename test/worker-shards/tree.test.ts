/**
 * Every group guarantee through the fan-out tree (PROTOCOL.md, Large
 * groups), with shards of 3 and 20-40 members, on real objects: exactly
 * once and one order for every member under concurrent senders, each
 * sender's messages in ack order; members moved between the group object
 * and shards as the group grows and shrinks while messages flow, with
 * nothing lost or repeated; a removed member gets exactly its frames up to
 * its removal and an added one from its member_added; the offline queue
 * and `since`; late refusals; watermark receipts; a shard or a member
 * object that fails, retried by alarm. It does not measure speed.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupObject } from "../../src/group/object.ts";
import { GroupShard } from "../../src/shard/object.ts";
import { UserObject } from "../../src/user/object.ts";
import { apiJson, Client, createGroup, type Frame, uniqueUser } from "../worker/helpers.ts";
import { connectedGroup, groupLog, groupOrder, placement, send } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("through shards of 3", () => {
  it("24 members, 5 senders at once: every member's sockets and log get every message once, in one order, each sender's in ack order", async () => {
    const { id, members } = await connectedGroup(24, "burst");
    expect(Object.keys(await placement(id))).toEqual([
      "shard 0",
      "shard 1",
      "shard 2",
      "shard 3",
      "shard 4",
      "shard 5",
      "shard 6",
      "shard 7",
    ]);
    const pushes = vi.spyOn(GroupShard.prototype, "push");
    const N = 60;
    for (let i = 0; i < N; i++) send(members[i % 5]!, id, `m${i}`, i);
    const acks = await Promise.all(
      members.slice(0, 5).map(async (c, s) => {
        const mine: Frame[] = [];
        for (let k = 0; k < N / 5; k++) mine.push(await c.ack(`m${s + 5 * k}`, 20_000));
        return mine;
      }),
    );
    // Acked means stored by the sender; the group takes them from the senders' outboxes.
    await expect.poll(async () => (await groupOrder(id)).length, { timeout: 20_000 }).toBe(N + 1);
    const order = await groupOrder(id);
    const messages = order.slice(1);
    // Each sender's messages in the group's order are in the order they were acked (sent on one socket).
    for (const senderAcks of acks) {
      const ids = senderAcks.map((a) => a.message as string);
      expect(messages.filter((m) => ids.includes(m))).toEqual(ids);
    }
    for (const [i, c] of members.entries()) {
      const expected = messages.filter((m) => !acks[i]?.some((a) => a.message === m));
      const got = (await c.expectAll({ type: "USER_MSG", to: id }, expected.length, 30_000)).map((f) => f.id);
      expect(got, c.user).toEqual(expected);
    }
    await Promise.all(members.map(async (c) => expect(await groupLog(c.user, id), c.user).toEqual(order)));
    await members[0]!.expectNothingMore();
    // The group called its 8 shards, each push carrying every frame it had for them (in-process calls are
    // quick, so few frames wait for each other: the batching under latency is costs.test.ts's).
    expect(new Set(pushes.mock.instances).size).toBe(8);
    expect(pushes.mock.calls.length).toBeLessThan(N * 8);
  });

  it("members move as the group grows to 34 and shrinks to 4 while two members send: each member's log is exactly its span of the group's order", async () => {
    const [admin, talker] = await Promise.all([Client.connect(uniqueUser("admin")), Client.connect(uniqueUser("talker"))]);
    const id = await createGroup(admin.user, [talker.user]);
    expect(await placement(id)).toEqual({ direct: 2 });
    const everyone = [talker.user];
    let sent = 0;
    const talk = async () => {
      for (let k = 0; k < 2; k++) {
        await admin.message(id, `a${sent}`, `a${sent}`);
        await talker.message(id, `t${sent}`, `t${sent}`);
        sent++;
      }
    };
    const peaks: number[] = [];
    // Grow one or a batch at a time, talking between changes.
    for (let step = 0; step < 8; step++) {
      const batch = Array.from({ length: step % 2 === 0 ? 1 : 7 }, () => uniqueUser(`g${step}`));
      await apiJson(admin.user, "POST", `/v1/groups/${id}/members`, batch.length === 1 ? { user: batch[0] } : { users: batch });
      everyone.push(...batch);
      await talk();
      peaks.push(Object.keys(await placement(id)).length);
    }
    expect(everyone.length + 1).toBe(34);
    expect(await placement(id)).not.toHaveProperty("direct");
    // Shrink: remove all but four, talking between removals.
    const leaving = everyone.slice(3);
    for (const [i, user] of leaving.entries()) {
      await apiJson(admin.user, "DELETE", `/v1/groups/${id}/members/${user}`);
      if (i % 5 === 0) await talk();
    }
    await talk();
    const end = await placement(id);
    expect(Object.values(end).reduce((a, b) => a + b, 0)).toBe(4);
    expect(Object.keys(end).length).toBeLessThanOrEqual(2);
    expect(Math.max(...peaks)).toBeGreaterThanOrEqual(10);
    // Every member's log of the group is one contiguous run of the group's order: from its first frame
    // (created or its member_added) to its last (its member_removed, or the end), once each.
    const order = await groupOrder(id);
    const expectedOf = async (user: string) => {
      const frames = await runInDurableObject(env.GROUPS.getByName(id), (_o, s) =>
        s.storage.sql
          .exec<{ id: string; frame: string }>("SELECT id, frame FROM frames WHERE type = 'GROUP_EVENT' ORDER BY gseq")
          .toArray(),
      );
      const events = frames.map((f) => ({ id: f.id, event: (JSON.parse(f.frame) as Frame).message }));
      const added = events.find((e) =>
        e.event.event === "created"
          ? e.event.members.some((m: Frame) => m.user === user)
          : e.event.user === user || e.event.members?.some((m: Frame) => m.user === user),
      );
      const removed = events.find((e) => e.event.event === "member_removed" && e.event.user === user);
      return order.slice(order.indexOf(added!.id), removed ? order.indexOf(removed.id) + 1 : order.length);
    };
    for (const user of [admin.user, ...everyone]) {
      const expected = await expectedOf(user);
      await expect.poll(() => groupLog(user, id), { timeout: 30_000, message: user }).toEqual(expected);
    }
  });

  it("an offline member gets the burst from its queue once, in order, and again with since=0 without duplicates", async () => {
    const { id, members } = await connectedGroup(20, "queue");
    const away = members[7]!;
    away.close();
    const acks = [];
    for (let i = 0; i < 15; i++) acks.push(await members[i % 3]!.message(id, `q${i}`));
    await expect.poll(() => groupLog(away.user, id), { timeout: 20_000 }).toHaveLength(16);
    const back = await Client.connect(away.user);
    expect((await back.expectAll({ type: "USER_MSG", to: id }, 15)).map((f) => f.id)).toEqual(acks.map((a) => a.message));
    await back.expectNothingMore();
    const replay = await Client.connect(away.user, { since: 0 });
    const all = await replay.expectAll((f: Frame) => f.to === id, 16);
    expect(all.map((f) => f.id)).toEqual(await groupOrder(id));
    await replay.expectNothingMore();
  });

  it("watermark receipts reach the sender live and move the members' watermarks; a removed sender's late message is refused", async () => {
    const { id, members } = await connectedGroup(21, "marks");
    const [sender, ...others] = members;
    const ack = await sender!.message(id, "read me");
    for (const reader of others.slice(10, 13)) {
      await reader.expect({ id: ack.message });
      reader.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    }
    const live = await sender!.expectAll({ type: "ACK_MSG", content: "MESSAGE_READ" }, 3);
    expect(new Set(live.map((f) => f.from))).toEqual(new Set(others.slice(10, 13).map((c) => c.user)));
    const group = await apiJson(sender!.user, "GET", `/v1/groups/${id}`);
    for (const reader of others.slice(10, 13)) {
      expect(group.members.find((m: Frame) => m.user === reader.user).readUpTo).toBe(ack.message);
    }
    // A member removed while its message waits in its outbox: refused late, and nobody gets it.
    const leaver = others[15]!;
    const post = GroupObject.prototype.post;
    const spy = vi.spyOn(GroupObject.prototype, "post").mockImplementation(function (
      this: GroupObject,
      envelopes: Parameters<typeof post>[0],
    ) {
      if (envelopes.some((e) => e.sender === leaver.user)) throw new Error("group busy");
      return post.call(this, envelopes);
    });
    const late = await leaver.message(id, "in flight");
    await apiJson(sender!.user, "DELETE", `/v1/groups/${id}/members/${leaver.user}`);
    await leaver.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } });
    spy.mockRestore();
    await runDurableObjectAlarm(env.USERS.getByName(leaver.user));
    expect((await leaver.expect({ content: "ERROR" })).message).toMatchObject({ code: "FORBIDDEN", ref: late.id, id: late.message });
    await others[0]!.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } });
    expect(await groupLog(others[0]!.user, id)).not.toContain(late.message);
  });

  it("a shard whose push fails, and a member object whose deliver fails, get the frames by their alarms, once and in order", async () => {
    const { id, members } = await connectedGroup(20, "fail");
    const failing = members[12]!;
    const target = await runInDurableObject(env.USERS.getByName(failing.user), (o: UserObject) => o);
    const deliver = UserObject.prototype.deliver;
    const down = vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
      if (this === target) return Promise.reject(new Error("member down"));
      return deliver.call(this, envelopes);
    });
    const push = vi.spyOn(GroupShard.prototype, "push").mockImplementation(() => {
      throw new Error("shard down");
    });
    const acks = [await members[0]!.message(id, "one"), await members[1]!.message(id, "two")];
    await expect.poll(() => push.mock.calls.length).toBeGreaterThan(0);
    push.mockRestore();
    // Retries are due within a second of the failures; the alarms run them.
    await new Promise((r) => setTimeout(r, 1100));
    await runDurableObjectAlarm(env.GROUPS.getByName(id));
    for (const c of members.slice(2)) {
      if (c === failing) continue;
      expect((await c.expectAll({ type: "USER_MSG", to: id }, 2, 20_000)).map((f) => f.id)).toEqual(acks.map((a) => a.message));
    }
    down.mockRestore();
    await new Promise((r) => setTimeout(r, 2100));
    const shard = await runInDurableObject(
      env.GROUPS.getByName(id),
      (_o, s) => s.storage.sql.exec<{ shard: number }>("SELECT shard FROM members WHERE user = ?", failing.user).one().shard,
    );
    await runDurableObjectAlarm(env.SHARDS.getByName(`${id}#${shard}`));
    expect((await failing.expectAll({ type: "USER_MSG", to: id }, 2, 20_000)).map((f) => f.id)).toEqual(acks.map((a) => a.message));
    await failing.expectNothingMore();
    expect(await groupLog(failing.user, id)).toEqual(await groupOrder(id));
  });
});
