/**
 * The client library's typing and presence, against the fake server of
 * fakes.ts with fake timers: `true` at once and every 3 s while typing, one
 * `false` on stop and on a send to that conversation; nothing queued while
 * offline; no repeats after close(); a refused spell, or one in a group the
 * user was removed from, stops without a word. Typists reported once per
 * spell and ended by their `false`, their message, or 6 s after their last
 * `true`. Presence: the watched list on every connection, replaced by a new
 * one, statuses only for watched users, the server's limit. The same
 * against the real Worker: client-e2e.test.ts.
 */
import { describe, expect, it, vi } from "vitest";
import { ack, error, FakeSocket, G, groupEvent, makeClient, msg, presenceFrame, T, typingFrame, useFakeServer } from "./fakes.ts";

useFakeServer();

/** A connected client whose socket has sent nothing yet. */
function connected(opts: Parameters<typeof makeClient>[0] = {}) {
  const made = makeClient(opts);
  made.client.connect();
  const ws = FakeSocket.latest();
  ws.accept(0);
  ws.pong();
  return { ...made, ws };
}

/** The TYPING frames the socket sent, as [to, message]. */
const typingSent = (ws: FakeSocket) => ws.frames.filter((f) => f.content === "TYPING").map((f) => [f.to, f.message]);

describe("typing(to, on)", () => {
  it("sends true at once and every 3 s while typing, one false when it stops, in the protocol's shape", () => {
    const { client, ws } = connected();
    client.typing("rick", true);
    client.typing("rick", true);
    expect(ws.frames).toEqual([{ id: expect.stringMatching(/^typing-/), type: "EVENT_MSG", content: "TYPING", to: "rick", message: true }]);
    vi.advanceTimersByTime(2999);
    expect(typingSent(ws)).toHaveLength(1);
    vi.advanceTimersByTime(1);
    client.typing("rick", true);
    vi.advanceTimersByTime(3000);
    expect(typingSent(ws)).toEqual([
      ["rick", true],
      ["rick", true],
      ["rick", true],
    ]);
    client.typing("rick", false);
    client.typing("rick", false);
    vi.advanceTimersByTime(30_000);
    expect(typingSent(ws)).toEqual([
      ["rick", true],
      ["rick", true],
      ["rick", true],
      ["rick", false],
    ]);
  });

  it("stops with one false after a message to that conversation, and keeps typing elsewhere", () => {
    const { client, ws } = connected();
    client.typing("rick", true);
    client.typing(G, true);
    const out = client.send("rick", "done typing");
    expect(ws.frames.slice(2).map((f) => [f.type, f.to, f.message])).toEqual([
      ["USER_MSG", "rick", "done typing"],
      ["EVENT_MSG", "rick", false],
    ]);
    ws.receive(ack(out.id, "s-1"));
    vi.advanceTimersByTime(3000);
    expect(typingSent(ws).slice(3)).toEqual([[G, true]]);
  });

  it("queues nothing while offline, resumes repeating once connected, and stops repeating on close()", () => {
    const { client, seen } = makeClient();
    client.typing("rick", true);
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0);
    ws.pong();
    expect(ws.frames).toEqual([]);
    vi.advanceTimersByTime(3000);
    expect(typingSent(ws)).toEqual([["rick", true]]);
    client.close();
    vi.advanceTimersByTime(10_000);
    expect(typingSent(ws)).toEqual([["rick", true]]);
    expect(seen.states.at(-1)).toEqual({ status: "closed" });
  });

  it("ends a spell in a group the user left or was removed from without a false, which the server would refuse", () => {
    const { client, ws } = connected();
    client.typing(G, true);
    client.typing("rick", true);
    ws.receive(groupEvent(1, G, { event: "member_removed", user: "me" }));
    client.typing(G, false);
    vi.advanceTimersByTime(3000);
    expect(typingSent(ws)).toEqual([
      [G, true],
      ["rick", true],
      ["rick", true],
    ]);
  });

  it("stops repeating a spell the server refused (a group one is not in), and fails no pending message", () => {
    const { client, ws, seen } = connected();
    const pending = client.send("rick", "waiting for its ack");
    client.typing(G, true);
    const [typing] = ws.frames.filter((f) => f.content === "TYPING");
    ws.receive(error("FORBIDDEN", typing!.id as string));
    vi.advanceTimersByTime(10_000);
    expect(typingSent(ws)).toEqual([[G, true]]);
    expect(seen.errors).toEqual(["FORBIDDEN"]);
    expect(client.pendingCount).toBe(1);
    // Rate-limited typing ends its spell too, and resends no pending message: the refusal was not about them.
    client.typing("rick", true);
    const rickTyping = ws.frames.filter((f) => f.content === "TYPING").at(-1)!;
    ws.receive(error("RATE_LIMITED", rickTyping.id as string));
    vi.advanceTimersByTime(1000);
    expect(ws.frames.filter((f) => f.id === pending.id)).toHaveLength(1);
    // Typing there again is a new spell.
    client.typing(G, true);
    expect(typingSent(ws).at(-1)).toEqual([G, true]);
  });
});

describe("typing events", () => {
  it("report a typist once per spell, and its end 6 s after the last true", () => {
    const { ws, seen } = connected();
    ws.receive(typingFrame("rick", true));
    vi.advanceTimersByTime(3000);
    ws.receive(typingFrame("rick", true));
    expect(seen.typing).toEqual([{ conversation: "rick", user: "rick", typing: true }]);
    vi.advanceTimersByTime(5999);
    expect(seen.typing).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(seen.typing).toEqual([
      { conversation: "rick", user: "rick", typing: true },
      { conversation: "rick", user: "rick", typing: false },
    ]);
  });

  it("end at once on the typist's false or their message, each typist of a group on their own", () => {
    const { ws, seen } = connected();
    ws.receive(typingFrame("morty", true, G));
    ws.receive(typingFrame("rick", true, G));
    ws.receive(typingFrame("rick", true));
    ws.receive({ ...msg(1, "what I typed", "morty"), to: G });
    ws.receive(typingFrame("rick", false, G));
    ws.receive(typingFrame("summer", false, G));
    expect(seen.typing).toEqual([
      { conversation: G, user: "morty", typing: true },
      { conversation: G, user: "rick", typing: true },
      { conversation: "rick", user: "rick", typing: true },
      { conversation: G, user: "morty", typing: false },
      { conversation: G, user: "rick", typing: false },
    ]);
    // Rick still types to me directly; his message there ends it.
    ws.receive(msg(2, "hi", "rick"));
    expect(seen.typing.at(-1)).toEqual({ conversation: "rick", user: "rick", typing: false });
    vi.advanceTimersByTime(10_000);
    expect(seen.typing).toHaveLength(6);
  });

  it("stop after close()", () => {
    const { client, ws, seen } = connected();
    ws.receive(typingFrame("rick", true));
    client.close();
    vi.advanceTimersByTime(10_000);
    expect(seen.typing).toEqual([{ conversation: "rick", user: "rick", typing: true }]);
  });
});

describe("watchPresence(users)", () => {
  const subscriptions = (ws: FakeSocket) => ws.frames.filter((f) => f.content === "PRESENCE_SUBSCRIBE").map((f) => f.message);

  it("subscribes on every connection, and a new list replaces the old at once", () => {
    const { client, seen } = makeClient();
    client.watchPresence(["rick", "morty", "rick"]);
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(0);
    expect(ws.frames).toEqual([{ type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: ["rick", "morty"] }]);
    ws.receive(presenceFrame("rick", "online"));
    ws.receive(presenceFrame("morty", "offline", T));
    expect(seen.presence).toEqual([
      { user: "rick", status: "online", lastSeen: null },
      { user: "morty", status: "offline", lastSeen: T },
    ]);

    client.watchPresence(["morty"]);
    expect(subscriptions(ws)).toEqual([["rick", "morty"], ["morty"]]);
    // In flight from before the new list: rick is no longer watched.
    ws.receive(presenceFrame("rick", "offline", T));
    expect(seen.presence).toHaveLength(2);

    ws.drop();
    vi.advanceTimersByTime(1000);
    ws = FakeSocket.latest();
    ws.accept(0);
    expect(subscriptions(ws)).toEqual([["morty"]]);

    client.watchPresence([]);
    expect(subscriptions(ws)).toEqual([["morty"], []]);
    ws.drop();
    vi.advanceTimersByTime(1000);
    FakeSocket.latest().accept(0);
    expect(subscriptions(FakeSocket.latest())).toEqual([]);
  });

  it("refuses more users than the server takes, and keeps the list it had", () => {
    const { client, ws } = connected();
    client.watchPresence(["rick"]);
    expect(() => client.watchPresence(Array.from({ length: 101 }, (_, i) => `u${i}`))).toThrow(RangeError);
    client.watchPresence(Array.from({ length: 100 }, (_, i) => `u${i}`));
    ws.receive(presenceFrame("u99", "online"));
    expect(subscriptions(ws).map((list) => (list as string[]).length)).toEqual([1, 100]);
  });
});
