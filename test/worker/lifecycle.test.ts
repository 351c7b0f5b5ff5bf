/**
 * Replies, edits, deletes and reactions in direct conversations (PROTOCOL.md,
 * v3), on real objects: each rides the message path (ack, copies, offline
 * queue, `since`, resend by client id); history and the list's `last` show
 * each message once, as it is now; changes are not unread and do not move
 * a conversation; who may do what, and every refusal before any ack with
 * nothing stored. Delete for everyone's erasure is proven table by table in
 * erasure.test.ts; groups in lifecycle-groups.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, apiJson, Client, type Frame, TIME, users } from "./helpers.ts";

const edit = (c: Client, to: string, ref: string, message: unknown, id = crypto.randomUUID()) => {
  c.send({ id, to, type: "USER_MSG", content: "MESSAGE_EDIT", ref, message });
  return c.ack(id);
};
const del = (c: Client, to: string, ref: string, id = crypto.randomUUID()) => {
  c.send({ id, to, type: "USER_MSG", content: "MESSAGE_DELETE", ref });
  return c.ack(id);
};
const react = (c: Client, to: string, ref: string, key: string, on = true, id = crypto.randomUUID()) => {
  c.send({ id, to, type: "USER_MSG", content: "REACTION", ref, message: { key, on } });
  return c.ack(id);
};
const reply = (c: Client, to: string, replyTo: string, message: unknown, id = crypto.randomUUID()) => {
  c.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message, replyTo });
  return c.ack(id);
};

/** The refusal of the frame with client id `id`: its code, with nothing acked. */
async function refusal(c: Client, frame: Frame): Promise<string> {
  const id = crypto.randomUUID();
  c.send({ ...frame, id });
  const answer = await c.expect((f) => f.id === id || f.message?.ref === id);
  expect(answer.content).toBe("ERROR");
  return answer.message.code as string;
}

const history = async (user: string, conversation: string) =>
  (await apiJson(user, "GET", `/v1/conversations/${encodeURIComponent(conversation)}/messages`)).messages as Frame[];
const listed = async (user: string, conversation: string) =>
  ((await apiJson(user, "GET", "/v1/conversations")).conversations as Frame[]).find((c) => c.id === conversation)!;
const logCount = (user: string) =>
  runInDurableObject(env.USERS.getByName(user), (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log").one().n);

describe("replies", () => {
  it("carry replyTo to every party and into history; the original must be a message of the same conversation", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const first = await john.message(rick.user, "Lunch?");
    await rick.expect({ id: first.message });
    const ack = await reply(rick, john.user, first.message, "Sure!");
    expect(await john.expect({ id: ack.message })).toEqual({
      id: ack.message,
      from: rick.user,
      to: john.user,
      type: "USER_MSG",
      time: expect.stringMatching(TIME),
      content: "TEXT_MESSAGE",
      replyTo: first.message,
      message: "Sure!",
      seq: expect.any(Number),
    });
    expect((await history(john.user, rick.user)).map((m) => [m.message, m.replyTo])).toEqual([
      ["Lunch?", undefined],
      ["Sure!", first.message],
    ]);
    // Another conversation's message, an unknown id, and a change (never a message) are unknown here.
    const other = await morty.message(rick.user, "elsewhere");
    await rick.expect({ id: other.message });
    const edited = await edit(john, rick.user, first.message, "Lunch??");
    for (const replyTo of [other.message, crypto.randomUUID(), edited.message]) {
      expect(await refusal(rick, { to: john.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "x", replyTo })).toBe(
        "UNKNOWN_MESSAGE",
      );
    }
  });
});

describe("edits", () => {
  it("reach every party with ref; history shows the latest payload and edited once; not unread, the list does not move", async () => {
    const [john, rick] = await users("john", "rick");
    const phone = await Client.connect(john.user);
    const orig = await john.message(rick.user, "Hello, world!");
    const later = await rick.message(john.user, "hi");
    await rick.expect({ id: orig.message });
    const before = await listed(rick.user, john.user);
    const ack = await edit(john, rick.user, orig.message, "Hello, world!!");
    for (const c of [rick, phone]) {
      expect(await c.expect({ id: ack.message })).toEqual({
        id: ack.message,
        from: john.user,
        to: rick.user,
        type: "USER_MSG",
        time: expect.stringMatching(TIME),
        content: "MESSAGE_EDIT",
        ref: orig.message,
        message: "Hello, world!!",
        seq: expect.any(Number),
      });
    }
    for (const [user, peer] of [
      [john.user, rick.user],
      [rick.user, john.user],
    ] as const) {
      const page = await history(user, peer);
      expect(page.map((m) => m.id)).toEqual([orig.message, later.message]);
      expect(page[0]).toMatchObject({ message: "Hello, world!!", edited: ack.time, content: "TEXT_MESSAGE" });
      expect(page[1]!.edited).toBeUndefined();
    }
    const after = await listed(rick.user, john.user);
    expect({ lastSeq: after.lastSeq, unread: after.unread }).toEqual({ lastSeq: before.lastSeq, unread: before.unread });
  });

  it("are the sender's own, of a message not deleted; an edit is never the ref", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "mine");
    await rick.expect({ id: orig.message });
    const frame = { to: john.user, type: "USER_MSG", content: "MESSAGE_EDIT", ref: orig.message, message: "theirs now" };
    const stored = await logCount(rick.user);
    expect(await refusal(rick, frame)).toBe("FORBIDDEN");
    expect(await refusal(rick, { ...frame, ref: crypto.randomUUID() })).toBe("UNKNOWN_MESSAGE");
    // Nothing refused was stored.
    expect(await logCount(rick.user)).toBe(stored);
    const e1 = await edit(john, rick.user, orig.message, "v2");
    expect(await refusal(john, { to: rick.user, type: "USER_MSG", content: "MESSAGE_EDIT", ref: e1.message, message: "v3" })).toBe(
      "UNKNOWN_MESSAGE",
    );
    await del(john, rick.user, orig.message);
    expect(await refusal(john, { to: rick.user, type: "USER_MSG", content: "MESSAGE_EDIT", ref: orig.message, message: "v4" })).toBe(
      "FORBIDDEN",
    );
    await rick.expectAll({ from: john.user }, 2);
    expect(await logCount(john.user)).toBe(3);
  });
});

describe("delete for everyone", () => {
  it("leaves a tombstone in history and the list's last, keeps replyTo, and a second delete is FORBIDDEN", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "oops");
    const answer = await reply(john, rick.user, orig.message, "and more");
    const last = await john.message(rick.user, "last words");
    await rick.expectAll({ from: john.user }, 3);
    expect((await listed(rick.user, john.user)).unread).toBe(3);
    const ack = await del(john, rick.user, last.message);
    const frame = await rick.expect({ id: ack.message });
    expect(frame).toEqual({
      id: ack.message,
      from: john.user,
      to: rick.user,
      type: "USER_MSG",
      time: expect.stringMatching(TIME),
      content: "MESSAGE_DELETE",
      ref: last.message,
      seq: expect.any(Number),
    });
    await del(john, rick.user, orig.message);
    const entry = await listed(rick.user, john.user);
    // Deleted messages are no longer unread; the list shows the latest message's tombstone.
    expect(entry.unread).toBe(1);
    expect(entry.last).toMatchObject({ id: last.message, message: null, deleted: ack.time });
    const page = await history(rick.user, john.user);
    expect(page.map((m) => [m.id, m.message, m.deleted !== undefined])).toEqual([
      [orig.message, null, true],
      [answer.message, "and more", false],
      [last.message, null, true],
    ]);
    expect(page[1]!.replyTo).toBe(orig.message);
    expect(await refusal(john, { to: rick.user, type: "USER_MSG", content: "MESSAGE_DELETE", ref: orig.message })).toBe("FORBIDDEN");
    // Replies to and reactions on a deleted message are refused too.
    expect(await refusal(rick, { to: john.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "?", replyTo: orig.message })).toBe(
      "FORBIDDEN",
    );
    expect(
      await refusal(rick, { to: john.user, type: "USER_MSG", content: "REACTION", ref: orig.message, message: { key: "👍", on: true } }),
    ).toBe("FORBIDDEN");
  });

  it("is the sender's only: the recipient's delete is FORBIDDEN and stores nothing", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "not yours");
    await rick.expect({ id: orig.message });
    const stored = await logCount(rick.user);
    expect(await refusal(rick, { to: john.user, type: "USER_MSG", content: "MESSAGE_DELETE", ref: orig.message })).toBe("FORBIDDEN");
    expect(await logCount(rick.user)).toBe(stored);
    expect((await history(rick.user, john.user))[0]!.message).toBe("not yours");
  });
});

describe("reactions", () => {
  it("count per key in order of first use with the user's own marked; no-ops are acked and not delivered; not unread", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "party?");
    await rick.expect({ id: orig.message });
    await rick.message(john.user, "read it");
    await john.next();
    const r1 = await react(rick, john.user, orig.message, "🎉");
    expect(await john.expect({ id: r1.message })).toMatchObject({
      content: "REACTION",
      ref: orig.message,
      message: { key: "🎉", on: true },
      from: rick.user,
    });
    await react(john, rick.user, orig.message, "👍");
    await react(rick, john.user, orig.message, "👍");
    await rick.expect({ content: "REACTION", from: john.user });
    // Already on: acked with an id nothing else shows, delivered to nobody.
    const noop = await react(rick, john.user, orig.message, "👍");
    await john.expect({ content: "REACTION", from: rick.user, message: { key: "👍" } });
    await john.expectNothingMore();
    expect(await logCount(john.user)).toBe(5);
    const mine = (await history(rick.user, john.user))[0]!;
    expect(mine.reactions).toEqual([
      { key: "🎉", count: 1, me: true },
      { key: "👍", count: 2, me: true },
    ]);
    expect((await history(john.user, rick.user))[0]!.reactions).toEqual([
      { key: "🎉", count: 1, me: false },
      { key: "👍", count: 2, me: true },
    ]);
    // Taken back: the count drops, and the key goes when nobody has it.
    await react(rick, john.user, orig.message, "🎉", false);
    await react(rick, john.user, orig.message, "👍", false);
    await john.expectAll({ content: "REACTION", from: rick.user }, 2);
    expect((await history(john.user, rick.user))[0]!.reactions).toEqual([{ key: "👍", count: 1, me: true }]);
    expect(JSON.stringify(await history(john.user, rick.user))).not.toContain(noop.message);
    expect((await listed(john.user, rick.user)).unread).toBe(1);
  });

  it("allows 20 keys per person per message (BAD_MESSAGE beyond), and taking one back frees its place", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "react!");
    await rick.expect({ id: orig.message });
    for (let i = 0; i < 20; i++) await react(rick, john.user, orig.message, `k${i}`);
    const frame = { to: john.user, type: "USER_MSG", content: "REACTION", ref: orig.message, message: { key: "k20", on: true } };
    expect(await refusal(rick, frame)).toBe("BAD_MESSAGE");
    await react(rick, john.user, orig.message, "k0", false);
    await react(rick, john.user, orig.message, "k20");
    const keys = ((await history(rick.user, john.user))[0]!.reactions as Frame[]).map((r) => r.key);
    expect(keys).toHaveLength(20);
    expect(keys).toContain("k20");
    expect(keys).not.toContain("k0");
  });
});

describe("every message guarantee", () => {
  it("a resent change gets the same ack and is delivered once, even after it changed what a first try would be checked against", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "once");
    await rick.expect({ id: orig.message });
    const first = await del(john, rick.user, orig.message, "del-1");
    const again = await del(john, rick.user, orig.message, "del-1");
    expect(again.message).toBe(first.message);
    await rick.expect({ id: first.message });
    // A reaction resent after its first try made the second a no-op: the same ack, one delivery.
    const two = await john.message(rick.user, "two");
    await rick.expect({ id: two.message });
    const r1 = await react(rick, john.user, two.message, "👍", true, "r-1");
    expect((await react(rick, john.user, two.message, "👍", true, "r-1")).message).toBe(r1.message);
    expect(await john.expect({ content: "REACTION" })).toMatchObject({ id: r1.message });
    await rick.expectNothingMore();
    await john.expectNothingMore();
  });

  it("queues changes for an offline recipient and replays them with since, deleted payloads erased", async () => {
    const [john] = await users("john");
    const rick = `rick-${crypto.randomUUID().slice(0, 8)}`;
    const orig = await john.message(rick, "secret");
    const e = await edit(john, rick, orig.message, "secret 2");
    const r = await react(john, rick, orig.message, "👀");
    const d = await del(john, rick, orig.message);
    const queued = await (await Client.connect(rick)).take(4);
    const payload = (f: Frame) => ("message" in f ? f.message : "none");
    expect(queued.map((f) => [f.id, f.content, payload(f)])).toEqual([
      [orig.message, "TEXT_MESSAGE", null],
      [e.message, "MESSAGE_EDIT", null],
      [r.message, "REACTION", { key: "👀", on: true }],
      [d.message, "MESSAGE_DELETE", "none"],
    ]);
    const replay = await (await Client.connect(john.user, { since: 0 })).take(4);
    expect(replay.map(payload)).toEqual([null, null, { key: "👀", on: true }, "none"]);
  });
});

describe("delete for me", () => {
  it("hides a message from my history, replay, unread and last on every device, with SETTINGS_CHANGED; again 204; elsewhere 404", async () => {
    const [john, rick] = await users("john", "rick");
    const rickPhone = await Client.connect(rick.user);
    const older = await john.message(rick.user, "keep");
    const gone = await john.message(rick.user, "forget me");
    await rick.expectAll({ from: john.user }, 2);
    await rickPhone.expectAll({ from: john.user }, 2);
    await edit(john, rick.user, gone.message, "forget me too");
    await rick.expect({ content: "MESSAGE_EDIT" });
    expect((await listed(rick.user, john.user)).unread).toBe(2);
    const path = `/v1/conversations/${john.user}/messages/${gone.message}`;
    const res = await api(rick.user, "DELETE", path);
    expect(res.status).toBe(204);
    for (const c of [rick, rickPhone]) {
      expect(await c.expect({ content: "SETTINGS_CHANGED" })).toEqual({
        id: expect.any(String),
        from: "system",
        to: rick.user,
        type: "SYSTEM_MSG",
        time: expect.stringMatching(TIME),
        content: "SETTINGS_CHANGED",
        message: { hidden: { conversation: john.user, message: gone.message } },
        seq: expect.any(Number),
      });
    }
    expect((await history(rick.user, john.user)).map((m) => m.id)).toEqual([older.message]);
    const entry = await listed(rick.user, john.user);
    expect(entry).toMatchObject({ unread: 1, last: { id: older.message, message: "keep" } });
    const replay = await (await Client.connect(rick.user, { since: 0 })).take(2);
    expect(replay.map((f) => f.content)).toEqual(["TEXT_MESSAGE", "SETTINGS_CHANGED"]);
    expect(JSON.stringify(replay)).not.toContain("forget me");
    // The sender still has it; a repeat changes nothing and makes no frame.
    expect((await history(john.user, rick.user)).map((m) => m.message)).toEqual(["keep", "forget me too"]);
    expect((await api(rick.user, "DELETE", path)).status).toBe(204);
    await rick.expectNothingMore();
    expect((await api(rick.user, "DELETE", `/v1/conversations/someone-else/messages/${older.message}`)).status).toBe(404);
    expect((await api(rick.user, "DELETE", `/v1/conversations/${john.user}/messages/${crypto.randomUUID()}`)).status).toBe(404);
    // Not in the offline queue: a new socket without since gets nothing.
    await (await Client.connect(rick.user)).expectNothingMore();
  });
});

describe("bad input", () => {
  it("answers a malformed ref, replyTo or reaction with BAD_MESSAGE and its ref, stores nothing, and the socket stays up", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "target");
    const stored = await logCount(john.user);
    const base = { to: rick.user, type: "USER_MSG" };
    const cases: Frame[] = [
      { ...base, content: "MESSAGE_EDIT", message: "x" },
      { ...base, content: "MESSAGE_EDIT", ref: 42, message: "x" },
      { ...base, content: "MESSAGE_DELETE", ref: "r".repeat(129) },
      { ...base, content: "MESSAGE_EDIT", ref: orig.message },
      { ...base, content: "TEXT_MESSAGE", message: "x", replyTo: { id: orig.message } },
      { ...base, content: "TEXT_MESSAGE", message: "x", replyTo: "r".repeat(129) },
      { ...base, content: "REACTION", ref: orig.message, message: { key: "", on: true } },
      { ...base, content: "REACTION", ref: orig.message, message: { key: "é".repeat(33), on: true } },
      { ...base, content: "REACTION", ref: orig.message, message: { key: 7, on: true } },
      { ...base, content: "REACTION", ref: orig.message, message: { key: "👍", on: "yes" } },
      { ...base, content: "REACTION", ref: orig.message, message: "👍" },
    ];
    for (const frame of cases) {
      const id = crypto.randomUUID();
      john.send({ ...frame, id });
      expect((await john.error(id)).message.code, JSON.stringify(frame)).toBe("BAD_MESSAGE");
    }
    expect(await logCount(john.user)).toBe(stored);
    // A 64-byte key is fine.
    await react(john, rick.user, orig.message, "é".repeat(32));
  });
});
