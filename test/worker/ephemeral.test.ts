/**
 * Ephemeral events (PROTOCOL.md, Ephemeral events) on real objects: TYPING to
 * a user and to a group (every member's sockets but the sender's; FORBIDDEN
 * for a group one is not in), the one-per-second throttle with `false`
 * always through, nothing stored or replayed for an offline peer; presence
 * subscriptions (only users one shares a conversation with, the rest left
 * out without a word; a new subscribe replaces the list; at most 100), the
 * first-open and last-close transitions only, `lastSeen`; registrations are
 * the only thing stored, a watcher that is gone is dropped after one call,
 * an expired one is not called. The rate bucket: worker-limits/limits.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UserObject } from "../../src/user/object.ts";
import { Client, createGroup, TIME, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const typing = (c: Client, to: string, message: unknown) => c.send({ type: "EVENT_MSG", content: "TYPING", to, message });
const subscribe = (c: Client, users: unknown, id?: string) =>
  c.send({ id, type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: users });
const isTyping = { type: "EVENT_MSG", content: "TYPING" };
const isPresence = { type: "EVENT_MSG", content: "PRESENCE" };

function tables(user: string): Promise<Record<string, number>> {
  return runInDurableObject(env.USERS.getByName(user), (_o, state) => {
    const sql = state.storage.sql;
    const names = sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%' AND name <> '_migrations'",
      )
      .toArray()
      .map((r) => r.name);
    return Object.fromEntries(names.map((n) => [n, sql.exec<{ n: number }>(`SELECT count(*) AS n FROM "${n}"`).one().n]));
  });
}

/** A direct conversation between two users, so they may watch each other. */
async function acquaint(a: Client, b: Client): Promise<void> {
  const ack = await a.message(b.user, "hi");
  await b.expect({ id: ack.message });
}

describe("TYPING", () => {
  it("reaches the recipient's sockets, not the sender's own, in the frame's exact shape", async () => {
    const [john, rick] = await users("john", "rick");
    const [johnsPhone, ricksPhone] = [await Client.connect(john.user), await Client.connect(rick.user)];
    typing(john, rick.user, true);
    for (const c of [rick, ricksPhone]) {
      expect(await c.expect(isTyping)).toEqual({
        id: expect.any(String),
        from: john.user,
        to: rick.user,
        type: "EVENT_MSG",
        content: "TYPING",
        message: true,
        time: expect.stringMatching(TIME),
      });
    }
    await johnsPhone.expectNothingMore();
    await john.expectNothingMore();
  });

  it("forwards at most one `true` per conversation per second, and every `false`", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    for (let i = 0; i < 5; i++) typing(john, rick.user, true);
    typing(john, morty.user, true);
    typing(john, rick.user, false);
    typing(john, rick.user, true);
    await john.expectNothingMore();
    await new Promise((r) => setTimeout(r, 200));
    expect(rick.takeUnread().map((f) => f.message)).toEqual([true, false, true]);
    expect(morty.takeUnread().map((f) => f.message)).toEqual([true]);
    for (let i = 0; i < 3; i++) typing(john, rick.user, true);
    await new Promise((r) => setTimeout(r, 1100));
    typing(john, rick.user, true);
    await john.expectNothingMore();
    await new Promise((r) => setTimeout(r, 200));
    expect(rick.takeUnread().map((f) => f.message)).toEqual([true]);
  });

  it("to a group: every member's sockets but the sender's; FORBIDDEN for a group one is not in", async () => {
    const [a, b, c, outsider] = await users("a", "b", "c", "outsider");
    const id = await createGroup(a.user, [b.user, c.user]);
    for (const x of [a, b, c]) await x.expect({ content: "GROUP_EVENT" });
    const aLaptop = await Client.connect(a.user);
    typing(a, id, true);
    for (const x of [b, c]) expect(await x.expect(isTyping)).toMatchObject({ from: a.user, to: id, message: true });
    await aLaptop.expectNothingMore();
    outsider.send({ id: "t-1", type: "EVENT_MSG", content: "TYPING", to: id, message: true });
    expect(await outsider.error("t-1")).toMatchObject({ message: { code: "FORBIDDEN" } });
    await b.expectNothingMore();
  });

  it("still handles what a client sent just before closing its socket: a last `false`, a last receipt", async () => {
    const [john, rick] = await users("john", "rick");
    const ack = await rick.message(john.user, "read me before you go");
    await john.expect({ id: ack.message });
    typing(john, rick.user, true);
    await rick.expect({ ...isTyping, message: true });
    typing(john, rick.user, false);
    john.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    john.close();
    expect(await rick.expect({ ...isTyping, message: false })).toMatchObject({ from: john.user });
    expect(await rick.expect({ type: "ACK_MSG", content: "MESSAGE_READ" })).toMatchObject({ from: john.user, message: ack.message });
  });

  it("to a user with no socket: dropped, nothing stored, nothing replayed with since", async () => {
    const [john] = await users("john");
    const away = uniqueUser("away");
    typing(john, away, true);
    await john.expectNothingMore();
    await new Promise((r) => setTimeout(r, 100));
    expect(await tables(away)).toEqual({});
    const later = await Client.connect(away, { since: 0 });
    await later.expectNothingMore();
  });

  it("answers a malformed TYPING with BAD_MESSAGE and ref", async () => {
    const [john] = await users("john");
    john.send({ id: "t-2", type: "EVENT_MSG", content: "TYPING", to: "rick", message: "yes" });
    john.send({ id: "t-3", type: "EVENT_MSG", content: "TYPING", message: true });
    john.send({ id: "t-4", type: "EVENT_MSG", content: "SHOUTING", to: "rick", message: true });
    for (const ref of ["t-2", "t-3", "t-4"]) expect(await john.error(ref)).toMatchObject({ message: { code: "BAD_MESSAGE" } });
  });
});

describe("presence", () => {
  it("answers now for users one shares a conversation with, and leaves the others out without a word", async () => {
    const [me, friend, stranger] = await users("me", "friend", "stranger");
    await acquaint(me, friend);
    const offlineFriend = uniqueUser("offline-friend");
    await me.message(offlineFriend, "are you there?");
    subscribe(me, [friend.user, stranger.user, offlineFriend, me.user]);
    const frames = await me.expectAll(isPresence, 2);
    expect(frames).toEqual([
      {
        id: expect.any(String),
        from: friend.user,
        to: me.user,
        type: "EVENT_MSG",
        content: "PRESENCE",
        message: { status: "online", lastSeen: null },
        time: expect.stringMatching(TIME),
      },
      expect.objectContaining({ from: offlineFriend, message: { status: "offline", lastSeen: null } }),
    ]);
    await me.expectNothingMore();
    // The stranger's object registered nobody and stores nothing.
    expect(await tables(stranger.user)).toEqual({});
  });

  it("counts a common group as a shared conversation", async () => {
    const [me, member] = await users("me", "member");
    await createGroup(me.user, [member.user]);
    await me.expect({ content: "GROUP_EVENT" });
    await member.expect({ content: "GROUP_EVENT" });
    subscribe(me, [member.user]);
    expect(await me.expect(isPresence)).toMatchObject({ from: member.user, message: { status: "online" } });
  });

  it("tells of the first socket opening and the last closing only, with lastSeen; five tabs closing are one offline", async () => {
    const [watcher, peer] = await users("watcher", "peer");
    await acquaint(watcher, peer);
    peer.close();
    await peer.closing();
    subscribe(watcher, [peer.user]);
    await watcher.expect({ ...isPresence, message: { status: "offline" } });
    const tabs = [];
    for (let i = 0; i < 5; i++) tabs.push(await Client.connect(peer.user));
    expect(await watcher.expect(isPresence)).toMatchObject({ from: peer.user, message: { status: "online", lastSeen: null } });
    for (const tab of tabs) {
      tab.close();
      await tab.closing();
    }
    const offline = await watcher.expect(isPresence);
    expect(offline).toMatchObject({ from: peer.user, message: { status: "offline", lastSeen: expect.stringMatching(TIME) } });
    await watcher.expectNothingMore();
    // A later subscriber gets the same lastSeen.
    const other = await Client.connect(watcher.user);
    subscribe(other, [peer.user]);
    expect((await other.expect(isPresence)).message).toEqual(offline.message);
  });

  it("replaces a socket's list with each new subscribe, and refuses more than 100 users", async () => {
    const [watcher, a, b] = await users("watcher", "a", "b");
    await acquaint(watcher, a);
    await acquaint(watcher, b);
    subscribe(watcher, [a.user]);
    await watcher.expect(isPresence);
    subscribe(watcher, [b.user]);
    await watcher.expect({ ...isPresence, from: b.user });
    a.close();
    await a.closing();
    const bTab = await Client.connect(b.user);
    bTab.close();
    await bTab.closing();
    await watcher.expectNothingMore(150);
    subscribe(
      watcher,
      Array.from({ length: 101 }, (_, i) => `u${i}`),
      "p-big",
    );
    expect(await watcher.error("p-big")).toMatchObject({ message: { code: "BAD_MESSAGE" } });
    subscribe(watcher, "not a list", "p-bad");
    expect(await watcher.error("p-bad")).toMatchObject({ message: { code: "BAD_MESSAGE" } });
  });

  it("stores only the registrations; a watcher whose sockets are gone is called once and dropped; an expired one is not called", async () => {
    const [watcher, peer] = await users("watcher", "peer");
    await acquaint(watcher, peer);
    subscribe(watcher, [peer.user]);
    await watcher.expect(isPresence);
    expect(await tables(peer.user)).toMatchObject({ watchers: 1 });
    const calls = vi.spyOn(UserObject.prototype, "presenceChanged");
    watcher.close();
    await watcher.closing();
    // The peer goes offline and online: one call finds nobody watching; the second transition calls no one.
    peer.close();
    await peer.closing();
    await expect.poll(() => tables(peer.user)).toMatchObject({ watchers: 0 });
    const back = await Client.connect(peer.user);
    await back.expectNothingMore();
    expect(calls).toHaveBeenCalledTimes(1);
    // A registration past its expiry is not called either.
    const w2 = await Client.connect(watcher.user);
    subscribe(w2, [peer.user]);
    await w2.expect(isPresence);
    await runInDurableObject(env.USERS.getByName(peer.user), (_o, s) => s.storage.sql.exec("UPDATE watchers SET expires = 0"));
    back.close();
    await back.closing();
    await w2.expectNothingMore(150);
    expect(calls).toHaveBeenCalledTimes(1);
    // Nothing about presence in anyone's log.
    const logs = (await tables(peer.user)).log;
    expect(logs).toBe(1);
  });
});
