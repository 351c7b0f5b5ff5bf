/**
 * The client library's replies, edits, deletes and reactions, against the
 * fake server of fakes.ts: the frames each method sends (through the outbox:
 * resent on reconnect until acked), the typed events for the frames that
 * arrive (once each, through the resume cursor), delete for me over HTTP
 * and its `settings` event, and unread counts that drop when an unread
 * message is deleted. client-lifecycle-e2e.test.ts proves it against the
 * real Worker.
 */
import { describe, expect, it, vi } from "vitest";
import { ApiError, type DeleteFrame, type EditFrame, type ReactionFrame, type SettingsChangedFrame } from "../../src/client/index.ts";
import { ack, conv, FakeHttp, FakeSocket, listing, makeClient, msg, T, useFakeServer } from "./fakes.ts";

useFakeServer();

const change = (seq: number, content: string, ref: string, message?: unknown, from = "rick") => ({
  id: `c${seq}`,
  from,
  to: "me",
  type: "USER_MSG",
  time: T,
  content,
  ref,
  ...(message === undefined ? {} : { message }),
  seq,
});
const settings = (seq: number, message: object) => ({
  id: `x${seq}`,
  from: "system",
  to: "me",
  type: "SYSTEM_MSG",
  time: T,
  content: "SETTINGS_CHANGED",
  message,
  seq,
});

describe("replies, edits, deletes and reactions", () => {
  it("send USER_MSG frames with replyTo or ref through the outbox, resent after a reconnect until acked", async () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    client.reply("rick", "s1", "Sure!", { id: "c-20" });
    client.edit("rick", "s1", "Hello, world!!", { id: "c-21" });
    client.deleteForEveryone("rick", "s1", { id: "c-22" });
    client.react("rick", "s1", "👍", true, { id: "c-23" });
    client.react("rick", "s1", "👍", false, { id: "c-24" });
    const sent = [
      { id: "c-20", to: "rick", type: "USER_MSG", content: "TEXT_MESSAGE", message: "Sure!", replyTo: "s1" },
      { id: "c-21", to: "rick", type: "USER_MSG", content: "MESSAGE_EDIT", ref: "s1", message: "Hello, world!!" },
      { id: "c-22", to: "rick", type: "USER_MSG", content: "MESSAGE_DELETE", ref: "s1" },
      { id: "c-23", to: "rick", type: "USER_MSG", content: "REACTION", ref: "s1", message: { key: "👍", on: true } },
      { id: "c-24", to: "rick", type: "USER_MSG", content: "REACTION", ref: "s1", message: { key: "👍", on: false } },
    ];
    expect(ws.frames).toEqual(sent);
    expect(client.pendingCount).toBe(5);
    ws.receive(ack("c-20", "s20"));
    ws.receive(ack("c-21", "s21"));
    ws.drop();
    expect(client.pendingCount).toBe(3);
    // Reconnected: the unacked ones go again, in order.
    await vi.advanceTimersByTimeAsync(1000);
    const again = FakeSocket.latest();
    expect(again).not.toBe(ws);
    again.accept();
    expect(again.frames).toEqual(sent.slice(2));
  });

  it("emits typed edit, delete and reaction events once each, and the reply's replyTo on its message", () => {
    const { client, seen } = makeClient();
    const edits: EditFrame[] = [];
    const deletes: DeleteFrame[] = [];
    const reactions: ReactionFrame[] = [];
    client.on("edit", (e) => edits.push(e));
    client.on("delete", (d) => deletes.push(d));
    client.on("reaction", (r) => reactions.push(r));
    const replies: (string | undefined)[] = [];
    client.on("message", (m) => replies.push(m.replyTo));
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    ws.receive(msg(1, "Lunch?"));
    ws.receive({ ...msg(2, "Sure!"), replyTo: "s1" });
    ws.receive(change(3, "MESSAGE_EDIT", "s1", "Lunch at 1?"));
    ws.receive(change(4, "REACTION", "s1", { key: "👍", on: true }));
    ws.receive(change(5, "MESSAGE_DELETE", "s1"));
    // A replay of what was seen is not handed over again.
    for (const seq of [3, 4, 5]) ws.receive(change(seq, "MESSAGE_EDIT", "s1", "again"));
    expect(seen.messages).toEqual(["Lunch?", "Sure!"]);
    expect(replies).toEqual([undefined, "s1"]);
    expect(edits.map((e) => [e.ref, e.message])).toEqual([["s1", "Lunch at 1?"]]);
    expect(reactions.map((r) => [r.ref, r.from, r.message])).toEqual([["s1", "rick", { key: "👍", on: true }]]);
    expect(deletes.map((d) => d.ref)).toEqual(["s1"]);
    expect(client.lastSeq).toBe(5);
    // A malformed change (no ref) is skipped, not fatal.
    ws.receive({ ...change(6, "MESSAGE_EDIT", "s1", "x"), ref: 7 });
    expect(edits).toHaveLength(1);
  });

  it("deletes for me over HTTP (204, 404 as an ApiError) and hands the settings frame over as a settings event", async () => {
    const http = new FakeHttp();
    http.answer = (url) =>
      url.pathname.endsWith("/s404") ? { status: 404, body: { error: "not_found", reason: "no" } } : { status: 204, body: undefined };
    const { client } = makeClient({ fetch: http.fetch });
    const got: SettingsChangedFrame[] = [];
    client.on("settings", (s) => got.push(s));
    await client.deleteForMe("rick", "s1");
    await expect(client.deleteForMe("group:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "s404")).rejects.toBeInstanceOf(ApiError);
    expect(http.requests.map((r) => [r.method, r.url.pathname])).toEqual([
      ["DELETE", "/v1/conversations/rick/messages/s1"],
      ["DELETE", "/v1/conversations/group%3A9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d/messages/s404"],
    ]);
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    ws.receive(settings(1, { hidden: { conversation: "rick", message: "s1" } }));
    expect(got.map((s) => s.message)).toEqual([{ hidden: { conversation: "rick", message: "s1" } }]);
  });

  it("takes a deleted unread message out of the unread count, for everyone or for me", async () => {
    const http = new FakeHttp();
    http.answer = () => ({ body: listing([conv("rick", 0, 0)]) });
    const { client, seen } = makeClient({ fetch: http.fetch });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    await client.conversations();
    ws.receive(msg(1));
    ws.receive(msg(2));
    ws.receive(msg(3));
    expect(seen.unread.at(-1)!.total).toBe(3);
    ws.receive(change(4, "MESSAGE_DELETE", "s2"));
    expect(seen.unread.at(-1)).toEqual({ total: 2, conversations: [{ id: "rick", unread: 2 }] });
    ws.receive(settings(5, { hidden: { conversation: "rick", message: "s3" } }));
    expect(seen.unread.at(-1)).toEqual({ total: 1, conversations: [{ id: "rick", unread: 1 }] });
  });
});
