/**
 * Messages and receipts in groups (PROTOCOL.md, Groups; DESIGN.md invariants
 * 1-5 with the group's order in place of per-sender order), on real objects:
 * acks after the sender's commit; every member's sockets but the sending one
 * get each message; concurrent senders, and every member sees the same
 * sequence; resend by client id; an offline member and `since`; a member
 * removed while its messages are in flight (the late FORBIDDEN); a group
 * object evicted; a member object whose deliver fails until its alarm
 * retries; receipts as watermarks, live to the sender, never logged per
 * message; the group in /v1/conversations and its history.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GroupObject } from "../../src/group/object.ts";
import { UserObject } from "../../src/user/object.ts";
import { api, apiJson, Client, createGroup, type Frame, TIME, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A group of these users, each having seen its `created` event. */
async function group(creator: Client, ...others: Client[]): Promise<string> {
  const id = await createGroup(
    creator.user,
    others.map((c) => c.user),
  );
  for (const c of [creator, ...others]) await c.expect({ content: "GROUP_EVENT", to: id });
  return id;
}

/** The ids of a user's logged frames of one group, in log order. */
function logOf(user: string, group: string): Promise<string[]> {
  return runInDurableObject(env.USERS.getByName(user), (_o, state) =>
    state.storage.sql
      .exec<{ id: string }>("SELECT id FROM log WHERE conversation = ? AND type = 'USER_MSG' ORDER BY seq", group)
      .toArray()
      .map((r) => r.id),
  );
}

const send = (c: Client, to: string, id: string, message: unknown) =>
  c.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });

describe("sending to a group", () => {
  it("acks the sender and delivers to every member's sockets but the one that sent it", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const id = await group(john, rick, morty);
    const johnsPhone = await Client.connect(john.user);
    const ack = await john.message(id, "Hello, group!");
    expect(ack).toEqual({
      id: ack.id,
      from: john.user,
      type: "ACK_MSG",
      time: expect.stringMatching(TIME),
      content: "MESSAGE_RECEIVED",
      message: expect.any(String),
    });
    for (const c of [rick, morty, johnsPhone]) {
      expect(await c.expect({ id: ack.message })).toEqual({
        id: ack.message,
        from: john.user,
        to: id,
        type: "USER_MSG",
        time: expect.stringMatching(TIME),
        content: "TEXT_MESSAGE",
        message: "Hello, group!",
        seq: expect.any(Number),
      });
    }
    // The sender's own log has it too, in the group's order; the sending socket got only the ack.
    expect(await logOf(john.user, id)).toEqual([ack.message]);
    await john.expectNothingMore();
  });

  it("refuses non-members with FORBIDDEN before any ack, with no word on whether the group exists, and bad group ids with BAD_MESSAGE", async () => {
    const [a, b, stranger] = await users("a", "b", "stranger");
    const id = await group(a, b);
    send(stranger, id, "s-1", "let me in");
    send(stranger, `group:${crypto.randomUUID()}`, "s-2", "anyone?");
    send(stranger, "group:not-a-uuid", "s-3", "?");
    const [real, missing, bad] = [await stranger.error("s-1"), await stranger.error("s-2"), await stranger.error("s-3")];
    expect(real.message).toEqual({ code: "FORBIDDEN", reason: "you are not a member of this group", ref: "s-1" });
    expect(missing.message).toEqual({ ...real.message, ref: "s-2" });
    expect(bad.message).toMatchObject({ code: "BAD_MESSAGE", ref: "s-3" });
    await b.expectNothingMore();
    // A message to `system` is refused too.
    send(stranger, "system", "s-4", "hi server");
    expect(await stranger.error("s-4")).toMatchObject({ message: { code: "FORBIDDEN" } });
  });

  it("gives every member the same order under concurrent senders, each sender's messages in ack order", async () => {
    const members = await users("m0", "m1", "m2", "m3");
    const id = await group(members[0], ...members.slice(1));
    const N = 15;
    for (const [i, c] of members.entries()) for (let k = 0; k < N; k++) send(c, id, `c${i}-${k}`, `${i}:${k}`);
    const acks = await Promise.all(members.map((c, i) => Promise.all(Array.from({ length: N }, (_, k) => c.ack(`c${i}-${k}`, 20_000)))));
    const total = members.length * N;
    // Every member's sockets get every message but their own sends (those come to the member's log only).
    await Promise.all(members.map((c) => c.expectAll({ type: "USER_MSG", to: id }, total - N, 20_000)));
    await expect.poll(() => logOf(members[3].user, id), { timeout: 10_000 }).toHaveLength(total);
    const orders = await Promise.all(members.map((c) => logOf(c.user, id)));
    for (const order of orders) expect(order).toEqual(orders[0]);
    for (const senderAcks of acks) {
      const ids = senderAcks.map((a) => a.message);
      expect(orders[0]!.filter((x) => ids.includes(x))).toEqual(ids);
    }
  });

  it("answers a resend of the same client id with the same ack and delivers once", async () => {
    const [a, b] = await users("a", "b");
    const id = await group(a, b);
    const first = await a.message(id, "once", "dup-1");
    const again = await a.message(id, "once", "dup-1");
    expect(again.message).toBe(first.message);
    await b.expect({ id: first.message });
    await b.expectNothingMore();
    // The same client id to someone else is the same message too (first frame wins).
    expect((await a.message(uniqueUser("else"), "other", "dup-1")).message).toBe(first.message);
    expect(await logOf(b.user, id)).toEqual([first.message]);
  });

  it("queues for an offline member, replays with since, and does not queue the sender's own copy", async () => {
    const [a, b] = await users("a", "b");
    const id = await group(a, b);
    b.close();
    await b.closing();
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await a.message(id, `while away ${i}`));
    const back = await Client.connect(b.user);
    expect((await back.take(3)).map((f) => f.id)).toEqual(acks.map((x) => x.message));
    const replay = await Client.connect(b.user, { since: 0 });
    const frames = await replay.take(4);
    expect(frames.map((f) => f.content)).toEqual(["GROUP_EVENT", "TEXT_MESSAGE", "TEXT_MESSAGE", "TEXT_MESSAGE"]);
    expect(frames.map((f) => f.seq)).toEqual([1, 2, 3, 4]);
    // The sender's new device has no offline queue of its own sends; it gets them with since.
    a.close();
    await a.closing();
    const fresh = await Client.connect(a.user);
    await fresh.expectNothingMore();
  });
});

describe("a member removed while its messages are in flight", () => {
  it("delivers what reached the group before the removal, and answers what reached it after with a late FORBIDDEN (ref and id)", async () => {
    const [admin, leaver, other] = await users("admin", "leaver", "other");
    const id = await group(admin, leaver, other);
    const early = await leaver.message(id, "before");
    await other.expect({ id: early.message });
    // The group does not take the leaver's posts for now: they wait in the leaver's outbox.
    const post = GroupObject.prototype.post;
    const spy = vi.spyOn(GroupObject.prototype, "post").mockImplementation(function (
      this: GroupObject,
      envelopes: Parameters<typeof post>[0],
    ) {
      if (envelopes.some((e) => e.sender === leaver.user)) throw new Error("group busy");
      return post.call(this, envelopes);
    });
    const late = await leaver.message(id, "in flight");
    await apiJson(admin.user, "DELETE", `/v1/groups/${id}/members/${leaver.user}`);
    expect(await leaver.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } })).toBeTruthy();
    spy.mockRestore();
    await runDurableObjectAlarm(env.USERS.getByName(leaver.user));
    const refused = await leaver.expect({ content: "ERROR" });
    expect(refused).toEqual({
      id: expect.any(String),
      from: "system",
      type: "SYSTEM_MSG",
      time: expect.stringMatching(TIME),
      content: "ERROR",
      message: { code: "FORBIDDEN", reason: expect.any(String), ref: late.id, id: late.message },
      seq: expect.any(Number),
    });
    // Nobody got the late one (only the removal); the leaver will see the refusal again with since.
    await other.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } });
    await other.expectNothingMore();
    expect(await logOf(other.user, id)).toEqual([early.message]);
    const replay = await Client.connect(leaver.user, { since: refused.seq - 1 });
    expect(await replay.next()).toMatchObject({ id: refused.id, content: "ERROR" });
  });
});

describe("failures", () => {
  it("a group object evicted with frames not yet fanned out delivers them once, by its alarm", async () => {
    const [a, b] = await users("a", "b");
    const id = await group(a, b);
    const deliver = UserObject.prototype.deliver;
    const stuck = vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
      if (envelopes.some((e) => e.recipient === id)) return Promise.reject(new Error("member down"));
      return deliver.call(this, envelopes);
    });
    const ack = await a.message(id, "survives");
    await expect
      .poll(() => runInDurableObject(env.GROUPS.getByName(id), (_o, s) => s.storage.sql.exec("SELECT 1 FROM frames").toArray().length))
      .toBe(2);
    stuck.mockRestore();
    await evictDurableObject(env.GROUPS.getByName(id));
    await runDurableObjectAlarm(env.GROUPS.getByName(id));
    expect(await b.expect({ id: ack.message })).toMatchObject({ message: "survives" });
    await runDurableObjectAlarm(env.GROUPS.getByName(id));
    await b.expectNothingMore();
    expect(await logOf(b.user, id)).toEqual([ack.message]);
  });

  it("a member object whose deliver fails gets the frames once its retry comes, others are not held up", async () => {
    const [a, ok, failing] = await users("a", "ok", "failing");
    const id = await group(a, ok, failing);
    const target = await runInDurableObject(env.USERS.getByName(failing.user), (o: UserObject) => o);
    const deliver = UserObject.prototype.deliver;
    const spy = vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
      if (this === target) return Promise.reject(new Error("member down"));
      return deliver.call(this, envelopes);
    });
    const acks = [await a.message(id, "one"), await a.message(id, "two")];
    for (const ack of acks) await ok.expect({ id: ack.message });
    spy.mockRestore();
    // The retry is due within a second of the failure; the alarm runs it.
    await new Promise((r) => setTimeout(r, 1100));
    await runDurableObjectAlarm(env.GROUPS.getByName(id));
    expect((await failing.expectAll({ type: "USER_MSG" }, 2)).map((f) => f.id)).toEqual(acks.map((x) => x.message));
    await failing.expectNothingMore();
  });
});

describe("receipts in groups", () => {
  it("move the member's watermarks (GET shows them), reach the sender's open sockets live, and are never logged per message", async () => {
    const [sender, reader, other] = await users("sender", "reader", "other");
    const id = await group(sender, reader, other);
    const readersTablet = await Client.connect(reader.user);
    const acks = [await sender.message(id, "m1"), await sender.message(id, "m2")];
    for (const ack of acks) await reader.expect({ id: ack.message });
    reader.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: acks[1]!.message });
    reader.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: acks[0]!.message });
    const live = await sender.expectAll({ type: "ACK_MSG", from: reader.user }, 2);
    expect(live).toEqual([
      {
        id: expect.any(String),
        from: reader.user,
        to: sender.user,
        type: "ACK_MSG",
        time: expect.stringMatching(TIME),
        content: "MESSAGE_DELIVERED",
        message: acks[1]!.message,
      },
      {
        id: expect.any(String),
        from: reader.user,
        to: sender.user,
        type: "ACK_MSG",
        time: expect.stringMatching(TIME),
        content: "MESSAGE_READ",
        message: acks[0]!.message,
      },
    ]);
    // The reader's other device hears of it live too.
    await readersTablet.expectAll({ type: "ACK_MSG", from: reader.user }, 2);
    await expect
      .poll(async () => (await apiJson(other.user, "GET", `/v1/groups/${id}`)).members.find((m: Frame) => m.user === reader.user))
      .toMatchObject({ deliveredUpTo: acks[1]!.message, readUpTo: acks[0]!.message });
    // An older read never moves the watermark back.
    reader.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: acks[1]!.message });
    reader.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: acks[0]!.message });
    await sender.expectAll({ type: "ACK_MSG", from: reader.user }, 2);
    expect((await apiJson(other.user, "GET", `/v1/groups/${id}`)).members.find((m: Frame) => m.user === reader.user)).toMatchObject({
      deliveredUpTo: acks[1]!.message,
      readUpTo: acks[1]!.message,
    });
    // Nothing of it in anyone's log.
    for (const user of [sender.user, reader.user]) {
      const rows = await runInDurableObject(
        env.USERS.getByName(user),
        (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log WHERE type = 'ACK_MSG'").one().n,
      );
      expect(rows).toBe(0);
    }
    // The reader's own readUpTo for the conversation moved with its read.
    const conv = (await apiJson(reader.user, "GET", "/v1/conversations")).conversations[0];
    expect(conv).toMatchObject({ id, unread: 0 });
  });

  it("refuses a receipt for one's own group message with FORBIDDEN", async () => {
    const [a, b] = await users("a", "b");
    const id = await group(a, b);
    const ack = await a.message(id, "mine");
    // The sender's copy is logged when the group's fan-out brings it back.
    await expect.poll(() => logOf(a.user, id)).toEqual([ack.message]);
    a.send({ id: "r-own", type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    expect(await a.error("r-own")).toMatchObject({ message: { code: "FORBIDDEN" } });
  });
});

describe("the group as a conversation", () => {
  it("is listed with its name and unread count, and pages through its history with the group events", async () => {
    const [a, b] = await users("a", "b");
    const id = await group(a, b);
    for (let i = 0; i < 5; i++) await a.message(id, `m${i}`);
    await b.expectAll({ type: "USER_MSG" }, 5);
    const list = await apiJson(b.user, "GET", "/v1/conversations");
    expect(list.conversations[0]).toMatchObject({ id, kind: "group", name: "Launch", lastSeq: 6, unread: 5, readUpTo: 0 });
    expect(list.conversations[0].peerReadUpTo).toBeUndefined();
    const page = await apiJson(b.user, "GET", `/v1/conversations/${encodeURIComponent(id)}/messages?limit=4`);
    expect(page.messages.map((m: Frame) => m.message)).toEqual(["m1", "m2", "m3", "m4"]);
    const rest = await apiJson(b.user, "GET", `/v1/conversations/${encodeURIComponent(id)}/messages?before=${page.next}`);
    expect(rest).toMatchObject({
      messages: [expect.objectContaining({ content: "GROUP_EVENT", seq: 1 }), expect.objectContaining({ message: "m0" })],
      next: null,
    });
    // No status on group messages: receipts there are watermarks, shown by GET /v1/groups/<id>.
    expect(page.messages.every((m: Frame) => m.status === undefined)).toBe(true);
    const res = await api(b.user, "GET", `/v1/conversations/${id}/messages`);
    expect(res.status).toBe(200);
  });
});
