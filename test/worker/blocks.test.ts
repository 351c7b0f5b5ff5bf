/**
 * Blocks (PROTOCOL.md, Blocking, reports and conversation settings) on real
 * objects: PUT/DELETE/GET /v1/blocks and their bad input; while A blocks B,
 * B's direct messages, replies, edits, reactions and receipts are acked to B
 * and never reach A (sockets, log, history, list, unread, webhooks), B's
 * deletes of earlier messages still do; typing and presence are cut both
 * ways; A's own sends to B are refused, A's receipts and typing dropped; B
 * cannot add A to a group (create or add, a reason that does not say why),
 * the server API can; a shared group still delivers; the block survives
 * hibernation; unblocking brings nothing back; SETTINGS_CHANGED reaches A's
 * other devices live and on `since`; traffic between users who do not block
 * each other is untouched (exactly once, in order). The cost of the check:
 * `npm run bench` (the block A/B), not a timed test.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UserObject } from "../../src/user/object.ts";
import type { QueuedEvent } from "../../src/webhooks/events.ts";
import { api, apiJson, Client, createGroup, directMessage, expectRefused, type Frame, TIME, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const blockUser = async (who: string, whom: string) => expect((await api(who, "PUT", `/v1/blocks/${whom}`)).status).toBe(204);
const unblockUser = async (who: string, whom: string) => expect((await api(who, "DELETE", `/v1/blocks/${whom}`)).status).toBe(204);

/**
 * Waits until `user`'s outbox is empty: everything it acked reached its recipients' objects (and was kept or
 * withheld there). Delivered rows leave with the object's next write or by the outbox's sweep a second later.
 */
async function flushed(user: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const left = await runInDurableObject(
      env.USERS.getByName(user),
      (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n,
    );
    if (left === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${user}'s outbox never drained`);
}

/** Every frame of `user`'s log from `other` (any type). */
async function loggedFrom(user: string, other: string): Promise<string[]> {
  return runInDurableObject(env.USERS.getByName(user), (_o, state) =>
    state.storage.sql
      .exec<{ type: string }>("SELECT type FROM log WHERE sender = ? ORDER BY seq", other)
      .toArray()
      .map((r) => r.type),
  );
}

async function conversationsOf(user: string): Promise<{ conversations: Frame[]; unread: number }> {
  return (await apiJson(user, "GET", "/v1/conversations")) as unknown as { conversations: Frame[]; unread: number };
}

const send = (c: Client, frame: Frame, id = crypto.randomUUID()) => {
  c.send({ id, type: "USER_MSG", ...frame });
  return c.ack(id);
};

describe("PUT, DELETE and GET /v1/blocks", () => {
  it("blocks and unblocks idempotently: `since` stays on a repeat, and each change is one SETTINGS_CHANGED on every device", async () => {
    const john = await Client.connect(uniqueUser("john"));
    const phone = await Client.connect(john.user);
    const morty = uniqueUser("morty-never-connected");
    await blockUser(john.user, morty);
    const first = await apiJson(john.user, "GET", "/v1/blocks");
    expect(first).toEqual({ blocked: [{ user: morty, since: expect.stringMatching(TIME) }] });
    for (const c of [john, phone]) {
      expect(await c.expect({ content: "SETTINGS_CHANGED" })).toEqual({
        id: expect.any(String),
        from: "system",
        to: john.user,
        type: "SYSTEM_MSG",
        content: "SETTINGS_CHANGED",
        message: { block: { user: morty, on: true } },
        time: expect.stringMatching(TIME),
        seq: expect.any(Number),
      });
    }
    await new Promise((r) => setTimeout(r, 1100));
    await blockUser(john.user, morty);
    expect(await apiJson(john.user, "GET", "/v1/blocks")).toEqual(first);
    await john.expectNothingMore();
    await unblockUser(john.user, morty);
    await unblockUser(john.user, morty);
    expect(await apiJson(john.user, "GET", "/v1/blocks")).toEqual({ blocked: [] });
    expect((await phone.expect({ content: "SETTINGS_CHANGED" })).message).toEqual({ block: { user: morty, on: false } });
    await phone.expectNothingMore();
    // A new device learns both changes on `since`; the list never shows them.
    const laptop = await Client.connect(john.user, { since: 0 });
    expect((await laptop.take(2)).map((f) => f.message)).toEqual([
      { block: { user: morty, on: true } },
      { block: { user: morty, on: false } },
    ]);
    expect((await conversationsOf(john.user)).conversations).toEqual([]);
  });

  it("refuses blocking oneself, `system` or a group id with 400 naming the user; needs a token", async () => {
    const john = uniqueUser("john");
    for (const whom of [john, "system", `group:${crypto.randomUUID()}`]) {
      for (const method of ["PUT", "DELETE"]) {
        const reason = await expectRefused(await api(john, method, `/v1/blocks/${encodeURIComponent(whom)}`), 400, "bad_user");
        expect(reason).toMatch(/^user/);
      }
    }
    await expectRefused(await exports.default.fetch("http://edge.test/v1/blocks"), 401, "missing_token");
    expect(await apiJson(john, "GET", "/v1/blocks")).toEqual({ blocked: [] });
  });
});

describe("while A blocks B", () => {
  it("B's direct messages are acked to B and reach none of A's sockets, log, history, list or unread; no conversation appears", async () => {
    const [a, b] = await users("a", "b");
    await blockUser(a.user, b.user);
    await a.expect({ content: "SETTINGS_CHANGED" });
    const ack = await b.message(a.user, "let me in");
    expect(ack.message).toEqual(expect.any(String));
    await flushed(b.user);
    await a.expectNothingMore();
    expect(await loggedFrom(a.user, b.user)).toEqual([]);
    expect(await conversationsOf(a.user)).toMatchObject({ conversations: [], unread: 0 });
    expect(await apiJson(a.user, "GET", `/v1/conversations/${b.user}/messages`)).toEqual({ messages: [], next: null });
    // Nothing is queued for A's next connection either, and B's own copy is as usual.
    const later = await Client.connect(a.user, { since: 0 });
    expect((await later.drain()).map((f) => f.content)).toEqual(["SETTINGS_CHANGED"]);
    expect((await conversationsOf(b.user)).conversations).toMatchObject([{ id: a.user, lastSeq: expect.any(Number) }]);
  });

  it("B's replies, edits and reactions to an earlier message never reach A; B's delete of it still erases at A", async () => {
    const [a, b] = await users("a", "b");
    const before = await b.message(a.user, "before the block");
    const earlier = before.message as string;
    await a.expect({ id: earlier });
    await blockUser(a.user, b.user);
    await send(b, { to: a.user, content: "TEXT_MESSAGE", message: "a reply", replyTo: earlier });
    await send(b, { to: a.user, content: "MESSAGE_EDIT", ref: earlier, message: "edited" });
    await send(b, { to: a.user, content: "REACTION", ref: earlier, message: { key: "👍", on: true } });
    await flushed(b.user);
    expect(await loggedFrom(a.user, b.user)).toEqual(["USER_MSG"]);
    const [shown] = (await apiJson(a.user, "GET", `/v1/conversations/${b.user}/messages`)).messages as Frame[];
    expect(shown).toMatchObject({ id: earlier, message: "before the block" });
    expect(shown).not.toHaveProperty("edited");
    expect(shown).not.toHaveProperty("reactions");
    await send(b, { to: a.user, content: "MESSAGE_DELETE", ref: earlier });
    expect(await a.expect({ content: "MESSAGE_DELETE" })).toMatchObject({ from: b.user, ref: earlier });
    const [erased] = (await apiJson(a.user, "GET", `/v1/conversations/${b.user}/messages`)).messages as Frame[];
    expect(erased).toMatchObject({ id: earlier, message: null, deleted: expect.stringMatching(TIME) });
    const rows = await a.drain();
    expect(rows.filter((f) => f.from === b.user)).toEqual([]);
  });

  it("B's receipts of A's earlier message never reach A; A's receipts of B's earlier one never reach B", async () => {
    const [a, b] = await users("a", "b");
    const fromA = (await a.message(b.user, "hi b")).message as string;
    const fromB = (await b.message(a.user, "hi a")).message as string;
    await b.expect({ id: fromA });
    await a.expect({ id: fromB });
    await blockUser(a.user, b.user);
    await a.expect({ content: "SETTINGS_CHANGED" });
    b.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: fromA });
    a.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: fromB });
    await flushed(b.user);
    await flushed(a.user);
    await a.expectNothingMore();
    await b.expectNothingMore();
    expect(await loggedFrom(a.user, b.user)).toEqual(["USER_MSG"]);
    expect(await loggedFrom(b.user, a.user)).toEqual(["USER_MSG"]);
    // A's own read position still moves: it is A's own data.
    expect((await conversationsOf(a.user)).conversations).toMatchObject([{ id: b.user, unread: 0, peerReadUpTo: 0 }]);
  });

  it("typing is cut both ways; A's messages, replies, edits and reactions to B are FORBIDDEN (unblock first), A's delete is not", async () => {
    const [a, b] = await users("a", "b");
    const mine = (await a.message(b.user, "mine")).message as string;
    await b.expect({ id: mine });
    await blockUser(a.user, b.user);
    b.send({ type: "EVENT_MSG", content: "TYPING", to: a.user, message: true });
    a.send({ type: "EVENT_MSG", content: "TYPING", to: b.user, message: true });
    for (const frame of [
      { to: b.user, content: "TEXT_MESSAGE", message: "hello?" },
      { to: b.user, content: "TEXT_MESSAGE", message: "re", replyTo: mine },
      { to: b.user, content: "MESSAGE_EDIT", ref: mine, message: "changed" },
      { to: b.user, content: "REACTION", ref: mine, message: { key: "👍", on: true } },
    ]) {
      const id = crypto.randomUUID();
      a.send({ id, type: "USER_MSG", ...frame });
      expect((await a.error(id)).message).toEqual({ code: "FORBIDDEN", reason: expect.stringContaining("unblock first"), ref: id });
    }
    await send(a, { to: b.user, content: "MESSAGE_DELETE", ref: mine });
    expect(await b.expect({ content: "MESSAGE_DELETE" })).toMatchObject({ from: a.user, ref: mine });
    await new Promise((r) => setTimeout(r, 100));
    expect(a.takeUnread().filter((f) => f.content === "TYPING")).toEqual([]);
    expect(b.takeUnread().filter((f) => f.content === "TYPING")).toEqual([]);
    expect(await loggedFrom(b.user, a.user)).toEqual(["USER_MSG", "MESSAGE_DELETE"]);
  });

  it("presence is cut both ways: neither can watch the other, and A coming online is not told to B who watched before", async () => {
    const [a, b] = await users("a", "b");
    await a.expect({ id: (await b.message(a.user, "hi")).message });
    b.send({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [a.user] });
    expect(await b.expect({ content: "PRESENCE" })).toMatchObject({ from: a.user, message: { status: "online" } });
    await blockUser(a.user, b.user);
    const aPhone = await Client.connect(a.user);
    a.close();
    aPhone.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(b.takeUnread().filter((f) => f.content === "PRESENCE")).toEqual([]);
    const a2 = await Client.connect(a.user);
    b.send({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [a.user] });
    a2.send({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [b.user] });
    await b.expectNothingMore(200);
    await a2.expectNothingMore(200);
    // After the unblock they watch each other again.
    await unblockUser(a.user, b.user);
    b.send({ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [a.user] });
    expect(await b.expect({ content: "PRESENCE" })).toMatchObject({ from: a.user, message: { status: "online" } });
  });

  it("B cannot add A to a group, by add or by a create that lists A (403, a reason that does not say why); the server API can", async () => {
    const [a, b, c] = [uniqueUser("a"), uniqueUser("b"), uniqueUser("c")];
    await blockUser(a, b);
    const group = await createGroup(b, [c]);
    const added = await api(b, "POST", `/v1/groups/${group}/members`, { user: a });
    const reason = await expectRefused(added, 403, "forbidden");
    expect(reason).not.toMatch(/block/i);
    const created = await api(b, "POST", "/v1/groups", { name: "Trap", members: [c, a] });
    expect(await expectRefused(created, 403, "forbidden")).toBe(reason);
    // The server API is not bound by blocks: it adds A, and sends as A to B (A's own socket could not).
    const asA = await exports.default.fetch("http://edge.test/v1/admin/messages", {
      method: "POST",
      headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
      body: JSON.stringify({ id: "api-1", from: a, to: b, message: "from the app" }),
    });
    expect(asA.status).toBe(201);
    const sent = (await asA.json()) as { id: string };
    for (let i = 0; i < 100 && (await loggedFrom(b, a)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await loggedFrom(b, a)).toEqual(["USER_MSG"]);
    expect(sent.id).toEqual(expect.any(String));
    const viaApi = await exports.default.fetch(`http://edge.test/v1/admin/groups/${group}/members`, {
      method: "POST",
      headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
      body: JSON.stringify({ user: a }),
    });
    expect(viaApi.status).toBe(200);
    // The block binds B, not A: A may add B.
    expect(await createGroup(a, [b])).toMatch(/^group:/);
  });

  it("a group both are in still delivers B's messages, edits, reactions, receipts and typing to A", async () => {
    const [a, b] = await users("a", "b");
    const group = await createGroup(b.user, [a.user]);
    await a.expect({ content: "GROUP_EVENT" });
    await b.expect({ content: "GROUP_EVENT" });
    await blockUser(a.user, b.user);
    const ack = await b.message(group, "to everyone");
    expect(await a.expect({ id: ack.message })).toMatchObject({ from: b.user, to: group, message: "to everyone" });
    await send(b, { to: group, content: "MESSAGE_EDIT", ref: ack.message as string, message: "to all" });
    expect(await a.expect({ content: "MESSAGE_EDIT" })).toMatchObject({ from: b.user, ref: ack.message, message: "to all" });
    await send(b, { to: group, content: "REACTION", ref: ack.message as string, message: { key: "🎉", on: true } });
    expect(await a.expect({ content: "REACTION" })).toMatchObject({ from: b.user, ref: ack.message });
    // A reads B's group message: B hears it (live), and A's own message reaches B and B's receipt A.
    a.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    expect(await b.expect({ type: "ACK_MSG", content: "MESSAGE_READ" })).toMatchObject({ from: a.user, message: ack.message });
    const mine = await a.message(group, "from a");
    await b.expect({ id: mine.message });
    b.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: mine.message });
    expect(await a.expect({ type: "ACK_MSG", content: "MESSAGE_READ" })).toMatchObject({ from: b.user, message: mine.message });
    b.send({ type: "EVENT_MSG", content: "TYPING", to: group, message: true });
    expect(await a.expect({ content: "TYPING" })).toMatchObject({ from: b.user, to: group });
  });

  it("holds across hibernation (the set is read again from SQLite), and unblocking brings nothing back", async () => {
    const [a, b] = await users("a", "b");
    await blockUser(a.user, b.user);
    await a.expect({ content: "SETTINGS_CHANGED" });
    a.close();
    await evictDurableObject(env.USERS.getByName(a.user));
    await b.message(a.user, "after the wake");
    await flushed(b.user);
    expect(await loggedFrom(a.user, b.user)).toEqual([]);
    await unblockUser(a.user, b.user);
    const after = await b.message(a.user, "after the unblock");
    await flushed(b.user);
    const history = (await apiJson(a.user, "GET", `/v1/conversations/${b.user}/messages`)).messages as Frame[];
    expect(history.map((f) => f.id)).toEqual([after.message]);
  });

  it("produces no message.offline webhook for B's messages to an offline A; a third user's still do", async () => {
    const [a, b, c] = [uniqueUser("a"), uniqueUser("b"), uniqueUser("c")];
    await blockUser(a, b);
    const message = (from: string) => directMessage(from, a);
    const queued: QueuedEvent[] = [];
    const sendBatch = env.WEBHOOKS.sendBatch.bind(env.WEBHOOKS);
    vi.spyOn(env.WEBHOOKS, "sendBatch").mockImplementation(async (batch) => {
      for (const m of batch) queued.push(m.body as QueuedEvent);
      return sendBatch(batch);
    });
    await runInDurableObject(env.USERS.getByName(a), async (_o, state) => {
      await new UserObject(state, { ...env, WEBHOOK_URL: "https://backend.example/hooks", WEBHOOK_SECRET: "s" }).deliver([
        message(b),
        message(c),
      ]);
    });
    expect(queued.map((e) => JSON.parse(e.body).from)).toEqual([c]);
  });
});

describe("traffic the block is not about", () => {
  it("reaches A exactly once and in order while B is withheld beside it", async () => {
    const [a, b, c] = await users("a", "b", "c");
    await blockUser(a.user, b.user);
    await a.expect({ content: "SETTINGS_CHANGED" });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      c.send({ id: `c-${i}`, to: a.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
      b.send({ id: `b-${i}`, to: a.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
      // A resend of the same client id: one message, one delivery.
      if (i % 5 === 0) c.send({ id: `c-${i}`, to: a.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    }
    for (let i = 0; i < 20; i++) ids.push((await c.ack(`c-${i}`)).message as string);
    for (let i = 0; i < 20; i++) await b.ack(`b-${i}`);
    const got = await a.expectAll({ type: "USER_MSG" }, 20);
    expect(got.map((f) => [f.from, f.message])).toEqual(ids.map((_id, i) => [c.user, i]));
    expect(got.map((f) => f.id)).toEqual(ids);
    await flushed(b.user);
    await flushed(c.user);
    await a.expectNothingMore();
    const history = (await apiJson(a.user, "GET", `/v1/conversations/${c.user}/messages`)).messages as Frame[];
    expect(history.map((f) => f.id)).toEqual(ids);
    expect((await conversationsOf(a.user)).unread).toBe(20);
  });
});
