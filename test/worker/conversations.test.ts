/**
 * The conversation index and history over HTTP (PROTOCOL.md, Conversations
 * and history) on real objects: the list's shape, order, cursor and unread
 * counts; readUpTo and the peer's watermarks; history pages and status;
 * tokens by header and by query, and that no token reaches another user's
 * data; bad parameters; the index written in the log row's commit; the
 * migration that indexes a log made before it; the history index in use.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { Conversations } from "../../src/user/conversations.ts";
import { UserObject } from "../../src/user/object.ts";
import { MIGRATIONS } from "../../src/user/schema.ts";
import { Client, directMessage, expectRefused, type Frame, TIME, tokenFor, uniqueUser } from "./helpers.ts";

type Via = "header" | "query";

async function api(user: string, path: string, via: Via = "header"): Promise<Response> {
  const token = await tokenFor(user);
  const url = new URL(`http://edge.test${path}`);
  if (via === "query") url.searchParams.set("Authentication", token);
  return exports.default.fetch(url.href, via === "header" ? { headers: { Authorization: `Bearer ${token}` } } : {});
}

async function json(user: string, path: string, via: Via = "header"): Promise<Frame> {
  const res = await api(user, path, via);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  return (await res.json()) as Frame;
}

const list = (user: string, query = "", via: Via = "header") => json(user, `/v1/conversations${query}`, via);
const history = (user: string, id: string, query = "", via: Via = "header") =>
  json(user, `/v1/conversations/${encodeURIComponent(id)}/messages${query}`, via);

const read = (c: Client, id: string) => c.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: id });
const delivered = (c: Client, id: string) => c.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: id });

describe("GET /v1/conversations", () => {
  it("lists conversations by latest activity with the last frame, unread counts and watermarks, exactly", async () => {
    const me = await Client.connect(uniqueUser("me"));
    const [rick, morty] = [await Client.connect(uniqueUser("rick")), await Client.connect(uniqueUser("morty"))];
    const toRick = await me.message(rick.user, "hi rick");
    const fromMorty = await morty.message(me.user, "hi from morty");
    const fromRick = await rick.message(me.user, "hello back");
    await me.expectAll({ type: "USER_MSG" }, 2);
    // Rick reads my message: a receipt, which does not move the conversation.
    read(rick, toRick.message);
    await me.expect({ content: "MESSAGE_READ", message: toRick.message });

    const body = await list(me.user);
    expect(body).toEqual({
      conversations: [
        {
          id: rick.user,
          kind: "direct",
          lastSeq: 3,
          last: {
            id: fromRick.message,
            from: rick.user,
            to: me.user,
            type: "USER_MSG",
            time: expect.stringMatching(TIME),
            content: "TEXT_MESSAGE",
            message: "hello back",
            seq: 3,
          },
          unread: 1,
          readUpTo: 0,
          peerDeliveredUpTo: 0,
          peerReadUpTo: 1,
          updated: expect.stringMatching(TIME),
          mutedUntil: null,
          pinned: false,
          archived: false,
        },
        {
          id: morty.user,
          kind: "direct",
          lastSeq: 2,
          last: expect.objectContaining({ id: fromMorty.message, seq: 2 }),
          unread: 1,
          readUpTo: 0,
          peerDeliveredUpTo: 0,
          peerReadUpTo: 0,
          updated: expect.stringMatching(TIME),
          mutedUntil: null,
          pinned: false,
          archived: false,
        },
      ],
      unread: 2,
      next: null,
    });
  });

  it("takes the token from the query string too, and answers each token with its own user's list only", async () => {
    const [a, b] = [uniqueUser("a"), uniqueUser("b")];
    const ca = await Client.connect(a);
    await ca.message(uniqueUser("friend-of-a"), "a's secret");
    const cb = await Client.connect(b);
    const bSecret = await cb.message(uniqueUser("friend-of-b"), "b's secret");
    for (const via of ["header", "query"] as const) {
      const mine = await list(a, "", via);
      expect(mine.conversations.map((c: Frame) => c.id)).toEqual([expect.stringMatching(/^friend-of-a-/)]);
      expect(JSON.stringify(mine)).not.toContain("b's secret");
      // B's conversation id in A's request is A's (empty) view of it.
      expect(await history(a, b, "", via)).toEqual({ messages: [], next: null });
      const friendOfB = (await list(b, "", via)).conversations[0].id;
      expect(await history(a, friendOfB, "", via)).toEqual({ messages: [], next: null });
      expect((await history(b, friendOfB, "", via)).messages.map((m: Frame) => m.id)).toEqual([bSecret.message]);
    }
  });

  it("pages with limit and next, newest first, with the same total unread on every page", async () => {
    const me = await Client.connect(uniqueUser("popular"));
    const peers = [];
    for (let i = 0; i < 5; i++) {
      const p = await Client.connect(uniqueUser(`p${i}`));
      await p.message(me.user, `from ${i}`);
      peers.push(p.user);
    }
    await me.expectAll({ type: "USER_MSG" }, 5);
    const first = await list(me.user, "?limit=2");
    expect(first.conversations.map((c: Frame) => c.id)).toEqual([peers[4], peers[3]]);
    expect(first.unread).toBe(5);
    expect(typeof first.next).toBe("string");
    const second = await list(me.user, `?limit=2&before=${first.next}`);
    expect(second.conversations.map((c: Frame) => c.id)).toEqual([peers[2], peers[1]]);
    expect(second.unread).toBe(5);
    const third = await list(me.user, `?limit=2&before=${second.next}`);
    expect(third).toMatchObject({ conversations: [expect.objectContaining({ id: peers[0] })], unread: 5, next: null });
    // The default page holds all five.
    expect((await list(me.user)).conversations).toHaveLength(5);
  });

  it("moves readUpTo only forward, by the user's own MESSAGE_READ, and recounts unread absolutely", async () => {
    const me = await Client.connect(uniqueUser("reader"));
    const peer = await Client.connect(uniqueUser("talker"));
    const acks = [];
    for (let i = 0; i < 4; i++) acks.push(await peer.message(me.user, `m${i}`));
    await me.expectAll({ type: "USER_MSG" }, 4);
    const row = async () => (await list(me.user)).conversations[0];
    expect(await row()).toMatchObject({ unread: 4, readUpTo: 0 });
    read(me, acks[2]!.message);
    await me.expectNothingMore();
    expect(await row()).toMatchObject({ unread: 1, readUpTo: 3 });
    // An older read never moves it back; a delivery receipt does not move it at all.
    read(me, acks[0]!.message);
    delivered(me, acks[3]!.message);
    await me.expectNothingMore();
    expect(await row()).toMatchObject({ unread: 1, readUpTo: 3 });
    // The peer's read of my messages is not mine.
    const mine = await me.message(peer.user, "reply");
    // The ack comes after my commit; the peer can read it once its object has it.
    await peer.expect({ id: mine.message });
    read(peer, mine.message);
    await me.expect({ content: "MESSAGE_READ", message: mine.message });
    // My own receipts are in my log too (seq 5-7), so my reply is at 8.
    expect(await row()).toMatchObject({ unread: 1, readUpTo: 3, peerReadUpTo: 8, lastSeq: 8 });
    read(me, acks[3]!.message);
    await me.expectNothingMore();
    expect(await row()).toMatchObject({ unread: 0, readUpTo: 4 });
    expect((await list(me.user)).unread).toBe(0);
  });

  it("answers a bad limit or cursor with 400 naming the field, and no token with 401", async () => {
    const user = uniqueUser("strict");
    for (const q of ["?limit=0", "?limit=201", "?limit=abc", "?limit=1.5"]) {
      expect(await expectRefused(await api(user, `/v1/conversations${q}`), 400, "bad_limit")).toMatch(/^limit: /);
    }
    for (const q of ["?before=x", "?before=-1", "?before=1e3"]) {
      expect(await expectRefused(await api(user, `/v1/conversations${q}`), 400, "bad_before")).toMatch(/^before: /);
    }
    expect(await expectRefused(await api(user, "/v1/conversations/x/messages?limit=500"), 400, "bad_limit")).toMatch(/^limit/);
    expect(await expectRefused(await api(user, "/v1/conversations/x/messages?before=soon"), 400, "bad_before")).toMatch(/^before/);
    await expectRefused(await exports.default.fetch("http://edge.test/v1/conversations"), 401, "missing_token");
    await expectRefused(
      await exports.default.fetch("http://edge.test/v1/conversations", { headers: { Authorization: "Bearer not.a.jwt" } }),
      401,
      "invalid_token",
    );
  });
});

describe("GET /v1/conversations/<id>/messages", () => {
  it("pages back from the newest, each page oldest first, with status on my own messages", async () => {
    const me = await Client.connect(uniqueUser("historian"));
    const peer = await Client.connect(uniqueUser("peer"));
    const ids: string[] = [];
    // Each message reaches the other side before the answer is sent, so both logs interleave them alike.
    for (let i = 0; i < 5; i++) {
      ids.push((await me.message(peer.user, `mine ${i}`)).message);
      await peer.expect({ id: ids.at(-1) });
      ids.push((await peer.message(me.user, `theirs ${i}`)).message);
      await me.expect({ id: ids.at(-1) });
    }
    delivered(peer, ids[6]!); // mine 3
    read(peer, ids[2]!); // mine 1
    await me.expectAll({ type: "ACK_MSG", from: peer.user }, 2);

    const newest = await history(me.user, peer.user, "?limit=4");
    expect(newest.messages.map((m: Frame) => m.message)).toEqual(["mine 3", "theirs 3", "mine 4", "theirs 4"]);
    expect(newest.messages.map((m: Frame) => m.status)).toEqual(["delivered", undefined, "stored", undefined]);
    expect(newest.next).toBe(newest.messages[0].seq);
    const older = await history(me.user, peer.user, `?limit=4&before=${newest.next}`);
    expect(older.messages.map((m: Frame) => [m.message, m.status])).toEqual([
      ["mine 1", "read"],
      ["theirs 1", undefined],
      ["mine 2", "delivered"],
      ["theirs 2", undefined],
    ]);
    const oldest = await history(me.user, peer.user, `?limit=4&before=${older.next}`);
    expect(oldest).toEqual({
      messages: [
        expect.objectContaining({ id: ids[0], from: me.user, to: peer.user, message: "mine 0", seq: 1, status: "read" }),
        expect.objectContaining({ id: ids[1], from: peer.user, message: "theirs 0", seq: 2 }),
      ],
      next: null,
    });
    // No receipts in history: only messages (and notices and group events).
    expect([...newest.messages, ...older.messages, ...oldest.messages].every((m: Frame) => m.type === "USER_MSG")).toBe(true);
  });

  it("gives an empty page for a conversation with nothing in the log", async () => {
    expect(await history(uniqueUser("nobody"), "never-talked-to")).toEqual({ messages: [], next: null });
    const me = await Client.connect(uniqueUser("someone"));
    await me.message(uniqueUser("x"), "hi");
    expect(await history(me.user, "never-talked-to")).toEqual({ messages: [], next: null });
  });

  it("relays payloads byte for byte, as the socket does", async () => {
    const me = await Client.connect(uniqueUser("raw"));
    const to = uniqueUser("raw-peer");
    me.send(`{"id":"r1","to":"${to}","type":"USER_MSG","content":"TEXT_MESSAGE","message":{"n":12345678901234567890,"z":1,"a":2}}`);
    await me.ack("r1");
    const res = await api(me.user, `/v1/conversations/${to}/messages`);
    expect(await res.text()).toContain('"message":{"n":12345678901234567890,"z":1,"a":2}');
  });
});

describe("the index lives in the log's commit", () => {
  it("a send whose index update fails leaves no log row and no conversation (INTERNAL), and the resend works", async () => {
    const me = await Client.connect(uniqueUser("atomic"));
    const to = uniqueUser("atomic-peer");
    await me.message(to, "first");
    // Only in my object, once: the peer's object logs "first" meanwhile.
    const logged = Conversations.prototype.logged;
    const spy = vi.spyOn(Conversations.prototype, "logged").mockImplementation(function (this: Conversations, ...args) {
      if ((this as unknown as { me: string }).me === me.user) {
        spy.mockRestore();
        throw new Error("disk full");
      }
      return logged.apply(this, args);
    });
    me.send({ id: "x-1", to, type: "USER_MSG", content: "TEXT_MESSAGE", message: "second" });
    expect(await me.error("x-1")).toMatchObject({ message: { code: "INTERNAL" } });
    const rows = await runInDurableObject(
      env.USERS.getByName(me.user),
      (_o, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log").one().n,
    );
    expect(rows).toBe(1);
    expect((await list(me.user)).conversations[0]).toMatchObject({ lastSeq: 1 });
    await me.message(to, "second", "x-1");
    expect((await list(me.user)).conversations[0]).toMatchObject({ lastSeq: 2 });
  });

  it("a batch delivered in one call moves each conversation's row once, and ends as frame by frame would, the row cap included", async () => {
    const [john, rick, morty] = [uniqueUser("batch"), uniqueUser("batch-rick"), uniqueUser("batch-morty")];
    const message = (from: string, text: string) => directMessage(from, john, JSON.stringify(text));
    const batch = [message(rick, "r1"), message(rick, "r2"), message(morty, "m1"), message(rick, "r3")];
    const moves = vi.spyOn(Conversations.prototype as unknown as { move: () => void }, "move");
    await env.USERS.getByName(john).deliver(batch);
    expect(moves).toHaveBeenCalledTimes(2);
    moves.mockRestore();
    const listed = (await list(john)) as { conversations: Frame[]; unread: number };
    expect(listed.unread).toBe(4);
    expect(listed.conversations).toMatchObject([
      { id: rick, lastSeq: 4, unread: 3, last: { id: batch[3]!.id } },
      { id: morty, lastSeq: 3, unread: 1, last: { id: batch[2]!.id } },
    ]);
    // With a row cap of 3, each append past it drops the oldest row and its unread count, mid-batch: the last two
    // dropped (m2, r4) came in this very batch, so their counts must be written before they are taken back.
    const capped = [message(morty, "m2"), message(rick, "r4"), message(rick, "r5"), message(rick, "r6"), message(rick, "r7")];
    await runInDurableObject(env.USERS.getByName(john), async (_o, state) => {
      await new UserObject(state, { ...env, LOG_MAX_ROWS: "3" }).deliver(capped);
    });
    const after = (await list(john)) as { conversations: Frame[]; unread: number };
    expect(after.conversations).toMatchObject([
      { id: rick, lastSeq: 9, unread: 3 },
      { id: morty, lastSeq: 5, unread: 0 },
    ]);
    expect(after.unread).toBe(3);
  });

  it("history reads the log through the (conversation, seq) index", async () => {
    const me = await Client.connect(uniqueUser("planned"));
    await me.message(uniqueUser("peer"), "hi");
    const plan = await runInDurableObject(env.USERS.getByName(me.user), (_o, state) => {
      const sql = state.storage.sql;
      return sql
        .exec<{ detail: string }>(
          `EXPLAIN QUERY PLAN SELECT seq, frame, sender, type FROM log WHERE conversation = ? AND type IN ('USER_MSG', 'NOTICE', 'GROUP_EVENT') AND seq < ? ORDER BY seq DESC LIMIT ?`,
          "x",
          1000,
          51,
        )
        .toArray()
        .map((r) => r.detail)
        .join("; ");
    });
    expect(plan).toContain("USING INDEX log_history");
    expect(plan).not.toContain("TEMP B-TREE");
  });
});

describe("migration", () => {
  it("indexes a log written before conversations existed: rows, unread, readUpTo and the peer's watermarks", async () => {
    const me = uniqueUser("old-store");
    const peer = "peer";
    await runInDurableObject(env.USERS.getByName(me), (_o, state) => {
      const sql = state.storage.sql;
      for (const { name } of sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        )
        .toArray()) {
        sql.exec(`DROP TABLE "${name}"`);
      }
      sql.exec("CREATE TABLE _migrations (version INTEGER PRIMARY KEY)");
      for (const [v, migration] of MIGRATIONS.slice(0, 4).entries()) {
        sql.exec(migration as string);
        sql.exec("INSERT INTO _migrations (version) VALUES (?)", v + 1);
      }
      const row = (seq: number, id: string, sender: string, recipient: string, type: string, frame: object) =>
        sql.exec(
          "INSERT INTO log (seq, id, sender, recipient, type, frame, queued, created) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
          seq,
          id,
          sender,
          recipient,
          type,
          JSON.stringify(frame),
          seq * 1000,
        );
      row(1, "m1", me, peer, "USER_MSG", { id: "m1", message: "mine" });
      row(2, "m2", peer, me, "USER_MSG", { id: "m2", message: "theirs 1" });
      row(3, "m3", peer, me, "USER_MSG", { id: "m3", message: "theirs 2" });
      row(4, "r1", peer, me, "ACK_MSG", { id: "r1", content: "MESSAGE_READ", message: "m1" });
      row(5, "r2", me, peer, "ACK_MSG", { id: "r2", content: "MESSAGE_READ", message: "m2" });
      sql.exec("INSERT INTO receipts (message_id, content, created) VALUES ('m2', 'MESSAGE_READ', 5000)");
      row(6, "n1", "other", me, "USER_MSG", { id: "n1", message: "new friend" });
    });
    // The next instance finds a version-4 store and migrates it.
    await evictDurableObject(env.USERS.getByName(me));
    const body = await list(me);
    expect(body.conversations).toEqual([
      expect.objectContaining({ id: "other", lastSeq: 6, unread: 1, readUpTo: 0, peerReadUpTo: 0 }),
      expect.objectContaining({ id: peer, lastSeq: 3, unread: 1, readUpTo: 2, peerDeliveredUpTo: 0, peerReadUpTo: 1 }),
    ]);
    expect(body.unread).toBe(2);
    expect((await history(me, peer)).messages.map((m: Frame) => [m.id, m.seq, m.status])).toEqual([
      ["m1", 1, "read"],
      ["m2", 2, undefined],
      ["m3", 3, undefined],
    ]);
  });
});
