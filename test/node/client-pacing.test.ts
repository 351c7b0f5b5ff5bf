/**
 * The client library under the server's send rate (PROTOCOL.md, Connecting:
 * `limits`; Errors: Order under refusal): every frame paced by the limits
 * CONNECTION_ID announced, and after a refusal the messages written again
 * from the refused one, in order, once each. Played against a scripted
 * server on fake timers; client-e2e.test.ts runs it against the real Worker.
 */
import { describe, expect, it, vi } from "vitest";
import { RATE_MARGIN } from "../../src/client/pacer.ts";
import { ack, error, FakeSocket, makeClient, useFakeServer } from "./fakes.ts";

useFakeServer();

const limits = (ratePerSecond: number, rateBurst: number, maxMessageBytes = 65536) => ({ maxMessageBytes, ratePerSecond, rateBurst });
/** ms between tokens for a rate, as the client paces it (with its margin), rounded up to the timer's. */
const gap = (ratePerSecond: number) => Math.ceil(1000 / (ratePerSecond * RATE_MARGIN));
/** The messages written on a socket, by their text, in order. */
const written = (ws: FakeSocket) => ws.frames.filter((f) => f.type === "USER_MSG").map((f) => f.message);

describe("pacing by the announced limits", () => {
  it("writes a burst at once, then one frame per token, a little under the announced rate", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 3));
    for (let i = 0; i < 8; i++) client.send("rick", `m${i}`);
    expect(written(ws)).toEqual(["m0", "m1", "m2"]);
    expect(gap(10)).toBe(112);
    vi.advanceTimersByTime(111);
    expect(written(ws)).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(written(ws)).toEqual(["m0", "m1", "m2", "m3"]);
    vi.advanceTimersByTime(4 * 112);
    expect(written(ws)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
  });

  it("paces presence and receipts with messages, from the same bucket; typing goes now or never", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0, "me", limits(5, 2));
    client.watchPresence(["rick"]);
    client.markRead("s1");
    // No token left: typing is dropped rather than queued, and so is the `false` that send() ends it with.
    client.typing("rick", true);
    client.send("rick", "hi");
    expect(ws.frames.map((f) => f.content)).toEqual(["PRESENCE_SUBSCRIBE", "MESSAGE_READ"]);
    vi.advanceTimersByTime(gap(5));
    expect(ws.frames.map((f) => [f.content, f.message])).toEqual([
      ["PRESENCE_SUBSCRIBE", ["rick"]],
      ["MESSAGE_READ", "s1"],
      ["TEXT_MESSAGE", "hi"],
    ]);
    vi.advanceTimersByTime(gap(5));
    client.typing("rick", true);
    expect(ws.frames.at(-1)).toMatchObject({ content: "TYPING", message: true });
  });

  it("keeps the bucket across sockets: a reconnect does not start with a fresh burst", () => {
    const { client } = makeClient();
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 4));
    for (let i = 0; i < 6; i++) client.send("rick", `m${i}`);
    expect(written(ws)).toHaveLength(4);
    ws.drop();
    vi.advanceTimersByTime(2 * gap(10)); // the reconnect (backoff under 100 ms), and two tokens
    ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 4));
    expect(written(ws)).toEqual(["m0", "m1"]);
  });

  it("checks a new message against the server's announced frame size", async () => {
    const { client } = makeClient();
    client.connect();
    FakeSocket.latest().accept(0, "me", limits(10, 10, 100));
    const out = client.send("rick", "x".repeat(100));
    await expect(out.acked).rejects.toMatchObject({ code: "TOO_LARGE" });
    expect(client.pendingCount).toBe(0);
  });

  it("does not pace a server that announces no limits (before v3)", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    for (let i = 0; i < 500; i++) client.send("rick", i);
    expect(written(ws)).toHaveLength(500);
  });
});

describe("resending after RATE_LIMITED", () => {
  it("writes again from the refused message, in order, once its later messages' refusals are in: one resend per refusal", () => {
    const { client, seen } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0, "me", limits(20, 5));
    const sent = ["a", "b", "c", "d", "e"].map((t) => client.send("rick", t));
    const [a, b, c, d, e] = sent.map((s) => s.id) as [string, string, string, string, string];
    ws.receive(ack(a, "s-a"));
    ws.receive(error("RATE_LIMITED", b));
    const f = client.send("rick", "f");
    vi.advanceTimersByTime(1000);
    // c, d and e were written after b: the server holds them back, and their refusals are still to come.
    expect(written(ws)).toEqual(["a", "b", "c", "d", "e"]);
    for (const id of [c, d]) ws.receive(error("RATE_LIMITED", id));
    vi.advanceTimersByTime(1000);
    expect(written(ws)).toHaveLength(5);
    ws.receive(error("RATE_LIMITED", e));
    vi.advanceTimersByTime(1000);
    expect(written(ws)).toEqual(["a", "b", "c", "d", "e", "b", "c", "d", "e", "f"]);
    const ids = ws.frames.map((fr) => fr.id);
    expect(ids.slice(5)).toEqual([b, c, d, e, f.id]);
    expect(seen.errors).toHaveLength(4);
    for (const [id, n] of [b, c, d, e, f.id].map((x) => [x, client.serverId(x)])) expect(n, id).toBeUndefined();
  });

  it("after a refusal waits for a token before writing again (the server's bucket is empty)", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 50));
    const a = client.send("rick", "a");
    ws.receive(error("RATE_LIMITED", a.id));
    vi.advanceTimersByTime(gap(10) - 1);
    expect(written(ws)).toEqual(["a"]);
    vi.advanceTimersByTime(1);
    expect(written(ws)).toEqual(["a", "a"]);
  });

  it("waits longer, with jitter, while refusals keep coming with no ack between them, and starts over after an ack", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    try {
      const { client } = makeClient({ backoff: { baseMs: 100, capMs: 1000 } });
      client.connect();
      const ws = FakeSocket.latest();
      ws.accept(0, "me", limits(1000, 50));
      const a = client.send("rick", "a");
      const writesAfter = (ms: number) => {
        vi.advanceTimersByTime(ms);
        return written(ws).length;
      };
      ws.receive(error("RATE_LIMITED", a.id));
      expect(writesAfter(gap(1000))).toBe(2); // first refusal: one token's wait
      ws.receive(error("RATE_LIMITED", a.id));
      expect(writesAfter(98)).toBe(2);
      expect(writesAfter(1)).toBe(3); // second in a row: up to 100 ms
      ws.receive(error("RATE_LIMITED", a.id));
      expect(writesAfter(198)).toBe(3);
      expect(writesAfter(1)).toBe(4); // third: up to 200 ms
      ws.receive(ack(a.id, "s-a"));
      const b = client.send("rick", "b");
      ws.receive(error("RATE_LIMITED", b.id));
      expect(writesAfter(gap(1000))).toBe(6);
    } finally {
      vi.mocked(Math.random).mockRestore();
    }
  });

  it("resends no message for the refusal of another frame (typing, a receipt): it only empties the bucket", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 50));
    const m = client.send("rick", "m");
    client.typing("rick", true);
    const typingId = ws.frames.find((f) => f.content === "TYPING")!.id as string;
    ws.receive(error("RATE_LIMITED", typingId));
    ws.receive(error("RATE_LIMITED"));
    const n = client.send("rick", "n");
    expect(written(ws)).toEqual(["m"]);
    vi.advanceTimersByTime(gap(10));
    expect(written(ws)).toEqual(["m", "n"]);
    ws.receive(ack(m.id, "s-m"));
    ws.receive(ack(n.id, "s-n"));
    vi.advanceTimersByTime(5000);
    expect(written(ws)).toEqual(["m", "n"]);
  });

  it("a drop during the wait writes everything pending on the next socket, in order", () => {
    const { client } = makeClient();
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 50));
    const [a, b] = [client.send("rick", "a"), client.send("rick", "b")];
    ws.receive(error("RATE_LIMITED", a.id));
    ws.drop();
    vi.advanceTimersByTime(500);
    ws = FakeSocket.latest();
    ws.accept(0, "me", limits(10, 50));
    vi.advanceTimersByTime(gap(10));
    expect(ws.frames.map((f) => f.id)).toEqual([a.id, b.id]);
  });
});
