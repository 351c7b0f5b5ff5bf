/**
 * The client library's logic, driven through a scripted in-memory WebSocket,
 * a scripted fetch and fake timers: outbox and acks, resume cursor,
 * receipts, errors, reconnect, heartbeat and browser online/offline; the
 * conversation and history calls (URLs, tokens, refusals) and the unread
 * counts they seed. Proves the client's own bookkeeping;
 * client-e2e.test.ts proves it against the real Worker.
 */
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { backoffDelay } from "../../src/client/backoff.ts";
import { ResumeCursor } from "../../src/client/cursor.ts";
import { parseServerFrame } from "../../src/client/frames.ts";
import { ApiError, fileBytes, filePayload, LunarLoomClient, SendError } from "../../src/client/index.ts";
import { Outbox, SERVER_IDS_KEPT } from "../../src/client/outbox.ts";
import {
  ack,
  conv,
  error,
  FakeHttp,
  FakeNetwork,
  FakeSocket,
  groupEvent,
  jwt,
  listing,
  makeClient,
  msg,
  presenceFrame,
  receipt,
  T,
  typingFrame,
  useFakeServer,
} from "./fakes.ts";

useFakeServer();

describe("backoffDelay", () => {
  it("is full jitter: uniform below min(cap, base·2^attempt)", () => {
    fc.assert(
      fc.property(fc.nat(64), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, { baseMs: 250, capMs: 30_000 }, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.max(1, Math.min(30_000, 250 * 2 ** attempt)));
      }),
    );
    expect(backoffDelay(3, { baseMs: 100, capMs: 10_000 }, () => 0.5)).toBe(400);
    expect(backoffDelay(30, { baseMs: 100, capMs: 10_000 }, () => 0.5)).toBe(5000);
  });
});

describe("Outbox server ids", () => {
  it("remembers the latest acks' server ids, and only a bounded number of them", () => {
    const outbox = new Outbox(64 * 1024);
    for (let i = 0; i <= SERVER_IDS_KEPT; i++) outbox.ack({ clientId: `c${i}`, serverId: `s${i}`, time: "2026-11-27T00:00:00Z" });
    expect(outbox.serverId(`c${SERVER_IDS_KEPT}`)).toBe(`s${SERVER_IDS_KEPT}`);
    expect(outbox.serverId("c1")).toBe("s1");
    expect(outbox.serverId("c0")).toBeUndefined();
  });
});

describe("ResumeCursor", () => {
  it("passes every seq once and in order, however replays overlap", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (raw, cuts) => {
          const log = [...raw].sort((a, b) => a - b);
          const cursor = new ResumeCursor(0);
          const delivered: number[] = [];
          // Each connection replays from `since`, and the socket dies after a few frames.
          let i = 0;
          for (const cut of [...cuts, log.length]) {
            const from = log.findIndex((s) => s > (cursor.since ?? 0));
            if (from < 0) break;
            // A server may resend from earlier than asked; the cursor must still not double.
            for (const seq of log.slice(Math.max(0, from - 2), from + 1 + (cut % 5))) if (cursor.accept(seq)) delivered.push(seq);
            i++;
          }
          for (const seq of log) if (cursor.accept(seq)) delivered.push(seq);
          expect(delivered).toEqual(log);
          expect(i).toBeGreaterThan(0);
        },
      ),
    );
  });

  it("without since, takes the offline queue first and resumes after the backlog", () => {
    const cursor = new ResumeCursor();
    expect(cursor.since).toBeUndefined();
    cursor.hello(40);
    expect(cursor.since).toBeUndefined();
    cursor.accept(12);
    // Cut mid-backlog: resume after the last frame seen, so the rest is replayed.
    expect(cursor.since).toBe(12);
    cursor.caughtUp();
    expect(cursor.since).toBe(40);
    expect(cursor.lastSeq).toBe(12);
    expect(cursor.accept(41)).toBe(true);
    expect(cursor.since).toBe(41);
  });

  it("starts from the app's stored since", () => {
    const cursor = new ResumeCursor(7);
    expect(cursor.since).toBe(7);
    expect(cursor.accept(7)).toBe(false);
    expect(cursor.accept(8)).toBe(true);
  });
});

describe("parseServerFrame", () => {
  it("accepts the protocol's frames and rejects malformed or unknown ones", () => {
    expect(parseServerFrame(JSON.stringify(msg(1)))).toMatchObject({ content: "TEXT_MESSAGE", seq: 1 });
    expect(parseServerFrame(JSON.stringify(ack("c", "s")))).toMatchObject({ content: "MESSAGE_RECEIVED" });
    expect(parseServerFrame(JSON.stringify(receipt(2, "s")))).toMatchObject({ content: "MESSAGE_READ" });
    expect(parseServerFrame(JSON.stringify(error("BAD_JSON")))).toMatchObject({ content: "ERROR" });
    expect(parseServerFrame(JSON.stringify({ ...error("FORBIDDEN", "c"), seq: 3 }))).toMatchObject({ content: "ERROR", seq: 3 });
    expect(parseServerFrame(JSON.stringify(groupEvent(4, "group:g", { event: "renamed", name: "x" })))).toMatchObject({
      content: "GROUP_EVENT",
    });
    expect(parseServerFrame(JSON.stringify(typingFrame("rick", true)))).toMatchObject({ content: "TYPING", message: true });
    expect(parseServerFrame(JSON.stringify(presenceFrame("rick", "offline", T)))).toMatchObject({ content: "PRESENCE" });
    for (const bad of [
      "not json",
      "[]",
      "null",
      JSON.stringify({ ...msg(1), seq: "1" }),
      JSON.stringify({ ...msg(1), seq: 0 }),
      JSON.stringify({ ...receipt(1, "s"), message: 5 }),
      JSON.stringify({ ...msg(1), type: "NEW_KIND" }),
      JSON.stringify({ type: "USER_MSG" }),
      JSON.stringify({ ...error("FORBIDDEN"), seq: -1 }),
      JSON.stringify(groupEvent(4, "group:g", { event: "exploded" })),
      JSON.stringify({ ...groupEvent(4, "group:g", { event: "renamed" }), seq: undefined }),
      JSON.stringify(typingFrame("rick", "yes" as unknown as boolean)),
      JSON.stringify({ ...presenceFrame("rick", "online"), message: { status: "away", lastSeen: null } }),
      JSON.stringify({ ...presenceFrame("rick", "offline"), message: { status: "offline", lastSeen: 5 } }),
    ]) {
      expect(parseServerFrame(bad)).toBeNull();
    }
  });
});

describe("files", () => {
  it("round-trips any bytes through a FILE_MESSAGE payload", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 70_000 }), async (bytes) => {
        const payload = await filePayload(new Blob([bytes], { type: "application/x-test" }), "f.bin");
        expect(payload).toMatchObject({ name: "f.bin", type: "application/x-test", size: bytes.length });
        expect(fileBytes(payload)).toEqual(bytes);
      }),
      { numRuns: 40 },
    );
  });
});

describe("LunarLoomClient", () => {
  it("connects to /ws with the token, and resumes with since after the backlog", () => {
    const { client, seen } = makeClient({ url: "http://edge.test:8787" });
    client.connect();
    const ws = FakeSocket.latest();
    expect(ws.url).toBe("ws://edge.test:8787/ws?Authentication=tok");
    ws.accept(9);
    expect(ws.sent).toEqual(["ping"]);
    ws.receive(msg(8));
    ws.pong();
    expect(seen.synced).toEqual([9]);
    expect(client.state).toMatchObject({ status: "open", user: "me" });
    ws.drop();
    vi.runOnlyPendingTimers();
    expect(FakeSocket.latest().query.get("since")).toBe("9");
  });

  it("hands each NOTICE over once, in the log's order, and resumes after it", () => {
    const { client } = makeClient();
    const notices: unknown[] = [];
    client.on("notice", (n) => notices.push(n.message));
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0);
    const notice = (seq: number) => ({
      id: `n${seq}`,
      from: "system",
      to: "me",
      type: "SYSTEM_MSG",
      time: T,
      content: "NOTICE",
      message: { order: seq },
      seq,
    });
    ws.receive(notice(1));
    ws.receive(notice(1));
    ws.receive(notice(2));
    ws.pong();
    expect(notices).toEqual([{ order: 1 }, { order: 2 }]);
    ws.drop();
    vi.runOnlyPendingTimers();
    expect(FakeSocket.latest().query.get("since")).toBe("2");
  });

  it("asks the token provider for a fresh token on every attempt", async () => {
    let n = 0;
    const { client } = makeClient({ token: async () => `t${++n}` });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.latest().query.get("Authentication")).toBe("t1");
    FakeSocket.latest().drop();
    await vi.runOnlyPendingTimersAsync();
    expect(FakeSocket.latest().query.get("Authentication")).toBe("t2");
  });

  describe("token refresh", () => {
    /** No pings in these minutes-long runs: the fake server would not answer them. */
    const heartbeat = { intervalMs: 3_600_000, timeoutMs: 60_000 };

    it("sends TOKEN_REFRESH with the provider's new token a minute before exp, and plans the next from the new token", async () => {
      let n = 0;
      const { client } = makeClient({ token: async () => jwt(++n, 600), heartbeat });
      client.connect();
      await vi.advanceTimersByTimeAsync(0);
      const ws = FakeSocket.latest();
      ws.accept();
      ws.pong();
      await vi.advanceTimersByTimeAsync(538_000);
      expect(ws.frames.filter((f) => f.content === "TOKEN_REFRESH")).toEqual([]);
      await vi.advanceTimersByTimeAsync(2_000);
      const [first] = ws.frames.filter((f) => f.content === "TOKEN_REFRESH");
      expect(first).toEqual({
        id: expect.stringMatching(/^refresh-/),
        type: "SYSTEM_MSG",
        content: "TOKEN_REFRESH",
        message: jwt(2, 600),
      });
      ws.receive({ id: first!.id, from: "system", type: "ACK_MSG", time: T, content: "TOKEN_REFRESHED", message: { expires: null } });
      // The second token was minted 540 s in, for 600 s: its refresh is due 540 s after that.
      await vi.advanceTimersByTimeAsync(539_000);
      expect(ws.frames.filter((f) => f.content === "TOKEN_REFRESH")).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(ws.frames.filter((f) => f.content === "TOKEN_REFRESH")).toHaveLength(2);
      expect(FakeSocket.all).toHaveLength(1);
    });

    it("tries a refused refresh again, and it fails no pending message", async () => {
      let n = 0;
      const { client } = makeClient({ token: async () => jwt(++n, 600), heartbeat });
      client.connect();
      await vi.advanceTimersByTimeAsync(0);
      const ws = FakeSocket.latest();
      ws.accept();
      ws.pong();
      const pending = client.send("rick", "waiting for its ack");
      let failed = false;
      pending.acked.catch(() => (failed = true));
      await vi.advanceTimersByTimeAsync(540_000);
      const refreshes = () => ws.frames.filter((f) => f.content === "TOKEN_REFRESH");
      ws.receive(error("BAD_TOKEN", refreshes()[0]!.id as string));
      await vi.advanceTimersByTimeAsync(5_000);
      expect(refreshes()).toHaveLength(2);
      expect(failed).toBe(false);
      expect(client.pendingCount).toBe(1);
    });

    it("never refreshes a fixed token", async () => {
      const { client } = makeClient({ token: jwt(1, 600), heartbeat });
      client.connect();
      FakeSocket.latest().accept();
      FakeSocket.latest().pong();
      await vi.advanceTimersByTimeAsync(700_000);
      expect(FakeSocket.latest().frames.filter((f) => f.content === "TOKEN_REFRESH")).toEqual([]);
    });

    it("reconnects at once after 4001 with a fresh token and since", async () => {
      let n = 0;
      const { client } = makeClient({ token: async () => `t${++n}`, backoff: { baseMs: 10_000, capMs: 10_000 } });
      client.connect();
      await vi.advanceTimersByTimeAsync(0);
      const ws = FakeSocket.latest();
      ws.accept(5);
      ws.pong();
      ws.drop(4001, "token expired; reconnect with a fresh token");
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.all).toHaveLength(2);
      expect(FakeSocket.latest().query.get("Authentication")).toBe("t2");
      expect(FakeSocket.latest().query.get("since")).toBe("5");
    });
  });

  it("retries with backoff when the token provider fails", async () => {
    // Full jitter can draw a 0 ms wait, which would fire within advanceTimersByTimeAsync(0): draw the middle.
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    try {
      let fail = true;
      const { client, seen } = makeClient({
        token: async () => {
          if (fail) throw new Error("auth service down");
          return "ok";
        },
      });
      client.connect();
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.all).toHaveLength(0);
      expect(client.state).toMatchObject({ status: "offline", attempt: 1, retryInMs: 50, reason: "token: auth service down" });
      fail = false;
      await vi.runOnlyPendingTimersAsync();
      expect(FakeSocket.all).toHaveLength(1);
      expect(seen.states.map((s) => s.status)).toEqual(["connecting", "offline", "connecting"]);
    } finally {
      vi.mocked(Math.random).mockRestore();
    }
  });

  it("sends from the outbox once connected, and maps client id to server id on the ack", async () => {
    const { client, seen } = makeClient();
    const out = client.send("rick", "Hello, world!", { id: "c-17" });
    expect(client.pendingCount).toBe(1);
    client.connect();
    const ws = FakeSocket.latest();
    expect(ws.frames).toEqual([]);
    ws.accept();
    expect(ws.frames).toEqual([{ id: "c-17", to: "rick", type: "USER_MSG", content: "TEXT_MESSAGE", message: "Hello, world!" }]);
    ws.receive(ack("c-17", "srv-1"));
    await expect(out.acked).resolves.toEqual({ clientId: "c-17", serverId: "srv-1", time: T });
    expect(client.serverId("c-17")).toBe("srv-1");
    expect(client.pendingCount).toBe(0);
    ws.receive(ack("c-17", "srv-1"));
    expect(seen.acks).toHaveLength(1);
  });

  it("resends unacked messages in order with the same ids after a drop, and only those", () => {
    const { client } = makeClient();
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept();
    const sent = ["a", "b", "c"].map((t) => client.send("rick", t));
    expect(ws.frames.map((f) => f.message)).toEqual(["a", "b", "c"]);
    ws.receive(ack(sent[0]!.id, "s-a"));
    ws.drop();
    const d = client.send("rick", "d");
    vi.runOnlyPendingTimers();
    ws = FakeSocket.latest();
    expect(ws.frames).toEqual([]);
    ws.accept();
    expect(ws.frames.map((f) => [f.id, f.message])).toEqual([
      [sent[1]!.id, "b"],
      [sent[2]!.id, "c"],
      [d.id, "d"],
    ]);
  });

  it("sending a pending id again returns the same send and writes nothing new", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    const a = client.send("rick", "x", { id: "same" });
    const b = client.send("rick", "x", { id: "same" });
    expect(b).toBe(a);
    expect(ws.frames).toHaveLength(1);
  });

  it("hands each seq to the app once, skipping what a replay repeats", () => {
    const { client, seen } = makeClient({ since: 0 });
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(3);
    for (const seq of [1, 2]) ws.receive(msg(seq));
    ws.receive(receipt(3, "x"));
    ws.drop();
    vi.runOnlyPendingTimers();
    ws = FakeSocket.latest();
    expect(ws.query.get("since")).toBe("3");
    ws.accept(5);
    for (const seq of [2, 3, 4]) ws.receive(seq === 3 ? receipt(3, "x") : msg(seq));
    ws.receive(receipt(5, "y"));
    expect(seen.messages).toEqual(["m1", "m2", "m4"]);
    expect(seen.receipts).toEqual(["x", "y"]);
    expect(client.lastSeq).toBe(5);
  });

  it("sends receipts now when connected, queues them when not, and each only once", () => {
    const { client } = makeClient();
    client.markDelivered("s1");
    client.markRead("s1");
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    client.markRead("s2");
    client.markRead("s2");
    client.markRead("s1");
    expect(ws.frames).toEqual([
      { type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: "s1" },
      { type: "ACK_MSG", content: "MESSAGE_READ", message: "s1" },
      { type: "ACK_MSG", content: "MESSAGE_READ", message: "s2" },
    ]);
  });

  it("rejects a send the server refuses for good, and never resends it", async () => {
    const { client, seen } = makeClient();
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept();
    const big = client.send("rick", "x".repeat(10));
    const ok = client.send("rick", "fine");
    ws.receive(error("TOO_LARGE", big.id));
    await expect(big.acked).rejects.toBeInstanceOf(SendError);
    await expect(big.acked).rejects.toMatchObject({ code: "TOO_LARGE", clientId: big.id });
    expect(seen.errors).toEqual(["TOO_LARGE"]);
    ws.drop();
    vi.runOnlyPendingTimers();
    ws = FakeSocket.latest();
    ws.accept();
    expect(ws.frames.map((f) => f.id)).toEqual([ok.id]);
  });

  it("refuses a message over the frame limit at once, without writing or keeping it", async () => {
    const { client } = makeClient({ maxMessageBytes: 1000 });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    // 400 three-byte characters: short in UTF-16, 1200 bytes on the wire.
    const big = client.send("rick", "€".repeat(400));
    await expect(big.acked).rejects.toMatchObject({ code: "TOO_LARGE", clientId: big.id });
    const ok = client.send("rick", "€".repeat(250));
    expect(ws.frames.map((f) => f.id)).toEqual([ok.id]);
    expect(client.pendingCount).toBe(1);
  });

  it("an app that ignores a refused send's promise does not get an unhandled rejection", async () => {
    const unhandled = vi.fn();
    process.on("unhandledRejection", unhandled);
    try {
      const { client } = makeClient();
      client.connect();
      const ws = FakeSocket.latest();
      ws.accept();
      const out = client.send("rick", "x");
      ws.receive(error("BAD_MESSAGE", out.id));
      vi.useRealTimers();
      // Node reports unhandled rejections once the microtask queue drains after a macrotask.
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off("unhandledRejection", unhandled);
    }
  });

  it("lets go of a socket that does not answer its ping, and reconnects", () => {
    const { client, seen } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    ws.pong();
    vi.advanceTimersByTime(5000);
    expect(ws.sent.filter((s) => s === "ping")).toHaveLength(2);
    vi.advanceTimersByTime(2000);
    expect(ws.closed).toMatchObject({ code: 4000 });
    expect(client.state).toMatchObject({ status: "offline", reason: "no answer to ping" });
    vi.runOnlyPendingTimers();
    expect(FakeSocket.all).toHaveLength(2);
    // Frames from the abandoned socket are ignored.
    ws.receive(msg(1));
    expect(seen.messages).toEqual([]);
  });

  it("counts a slow backlog as alive while frames keep coming", () => {
    const { client } = makeClient({ since: 0 });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(100);
    for (let seq = 1; seq <= 10; seq++) {
      vi.advanceTimersByTime(1500);
      ws.receive(msg(seq));
    }
    expect(ws.closed).toBeNull();
    expect(client.state.status).toBe("open");
  });

  it("backs off with growing jitter between failed attempts, and resets after a healthy connection", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    try {
      const { client } = makeClient();
      client.connect();
      const delays: number[] = [];
      client.on("state", (s) => s.status === "offline" && delays.push(s.retryInMs));
      for (let i = 0; i < 6; i++) {
        FakeSocket.latest().drop();
        vi.runOnlyPendingTimers();
      }
      expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
      FakeSocket.latest().accept();
      FakeSocket.latest().drop();
      expect(delays.at(-1)).toBe(99);
    } finally {
      vi.mocked(Math.random).mockRestore();
    }
  });

  it("drops the socket when the browser goes offline and reconnects at once when it is back", () => {
    const network = new FakeNetwork();
    const { client } = makeClient({ network, backoff: { baseMs: 60_000, capMs: 60_000 } });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    network.fire("offline");
    expect(ws.closed).toMatchObject({ code: 4000 });
    expect(client.state.status).toBe("offline");
    network.fire("online");
    expect(FakeSocket.all).toHaveLength(2);
    expect(client.state.status).toBe("connecting");
  });

  it("close() stops reconnecting and keeps the outbox for a later connect()", () => {
    const { client } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    const out = client.send("rick", "later");
    client.close();
    expect(ws.closed).toMatchObject({ code: 1000 });
    expect(client.state.status).toBe("closed");
    vi.runAllTimers();
    expect(FakeSocket.all).toHaveLength(1);
    client.connect();
    FakeSocket.latest().accept();
    expect(FakeSocket.latest().frames.map((f) => f.id)).toEqual([out.id]);
  });

  it("after close() during a rate-limit pause, a new connection sends at once", () => {
    const { client } = makeClient();
    client.connect();
    FakeSocket.latest().accept();
    client.send("rick", "a");
    FakeSocket.latest().receive(error("RATE_LIMITED"));
    client.close();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    const b = client.send("rick", "b");
    expect(ws.frames.map((f) => f.message)).toEqual(["a", "b"]);
    expect(ws.frames[1]!.id).toBe(b.id);
  });

  it("ignores frames it does not understand", () => {
    const { client, seen } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    ws.receive("garbage");
    ws.receive({ type: "FUTURE_MSG", id: "x" });
    ws.receive(msg(1));
    expect(seen.messages).toEqual(["m1"]);
  });

  it("refuses to start without a url or token", () => {
    expect(() => new LunarLoomClient({ url: "", token: "t", WebSocket: FakeSocket })).toThrow(/'url'/);
    expect(() => new LunarLoomClient({ url: "https://x", token: "", WebSocket: FakeSocket })).toThrow(/'token'/);
  });
});

describe("conversations and history over HTTP", () => {
  it("calls /v1 on the socket's server with a bearer token, and returns the pages as the server sent them", async () => {
    const http = new FakeHttp();
    const { client } = makeClient({ url: "wss://edge.test:8443", token: "tok", fetch: http.fetch });
    const page = listing([conv("rick", 41, 3, 38)], "41");
    const history = {
      messages: [{ ...msg(40, "hi", "me"), to: "rick", status: "read" }, msg(41)],
      next: 40,
    };
    http.answer = (url) => ({ body: url.pathname === "/v1/conversations" ? page : history });
    await expect(client.conversations({ limit: 1 })).resolves.toEqual(page);
    await expect(client.history("group:9b1 x", { before: 42, limit: 2 })).resolves.toEqual(history);
    await expect(client.history("rick")).resolves.toEqual(history);
    expect(http.requests.map((r) => r.url.origin)).toEqual(Array(3).fill("https://edge.test:8443"));
    expect(http.paths).toEqual([
      "/v1/conversations?limit=1",
      "/v1/conversations/group%3A9b1%20x/messages?before=42&limit=2",
      "/v1/conversations/rick/messages",
    ]);
    expect(http.requests.map((r) => r.authorization)).toEqual(Array(3).fill("Bearer tok"));
  });

  it("throws the server's refusal as an ApiError, and a body of another shape too", async () => {
    const http = new FakeHttp();
    const { client } = makeClient({ fetch: http.fetch });
    http.answer = () => ({ status: 400, body: { error: "bad_limit", reason: "limit: must be an integer from 1 to 200" } });
    const refused = client.conversations({ limit: 500 });
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ status: 400, error: "bad_limit", reason: "limit: must be an integer from 1 to 200" });
    http.answer = () => ({ status: 502, body: "<html>bad gateway</html>" });
    await expect(client.history("rick")).rejects.toMatchObject({ status: 502, error: "http_502" });
    http.answer = () => ({ body: { messages: [{ id: "x" }], next: null } });
    await expect(client.history("rick")).rejects.toMatchObject({ status: 200, error: "bad_response" });
    http.answer = () => ({ body: { conversations: [], unread: -1, next: null } });
    await expect(client.conversations()).rejects.toMatchObject({ error: "bad_response" });
  });

  it("reuses the socket's token while it lasts, and asks the provider again when it runs low or is refused", async () => {
    const http = new FakeHttp();
    let n = 0;
    const { client } = makeClient({
      token: async () => jwt(++n, 600),
      fetch: http.fetch,
      heartbeat: { intervalMs: 3_600_000, timeoutMs: 60_000 },
    });
    client.connect();
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSocket.latest().query.get("Authentication")).toBe(jwt(1, 600));
    http.answer = () => ({ body: listing([]) });
    await client.conversations();
    expect(n).toBe(1);
    expect(http.requests[0]!.authorization).toBe(`Bearer ${jwt(1, 600)}`);

    // Token 1 is refused (revoked, or the server's clock is ahead): one retry with a fresh one.
    http.answer = (_url, auth) =>
      auth === `Bearer ${jwt(1, 600)}`
        ? { status: 401, body: { error: "expired_token", reason: "exp has passed" } }
        : { body: listing([]) };
    await client.conversations();
    expect(n).toBe(2);
    expect(http.requests.slice(1).map((r) => r.authorization)).toEqual([`Bearer ${jwt(1, 600)}`, `Bearer ${jwt(2, 600)}`]);

    // A fresh token that is refused is the answer: no second retry.
    http.answer = () => ({ status: 401, body: { error: "invalid_token", reason: "bad signature" } });
    await vi.advanceTimersByTimeAsync(580_000);
    await expect(client.history("rick")).rejects.toMatchObject({ status: 401, error: "invalid_token" });
    expect(n).toBe(3);
    expect(http.requests).toHaveLength(4);
  });
});

describe("tokens for HTTP", () => {
  it("shares one provider call between requests that need a token at once, and tries again after the provider failed", async () => {
    const http = new FakeHttp();
    http.answer = (url) => ({ body: url.pathname.endsWith("/messages") ? { messages: [], next: null } : listing([]) });
    let calls = 0;
    let gate = Promise.withResolvers<void>();
    const { client } = makeClient({
      token: async () => {
        calls++;
        await gate.promise;
        if (calls === 1) throw new Error("auth service down");
        return jwt(calls, 600);
      },
      fetch: http.fetch,
    });
    const failing = client.conversations();
    gate.resolve();
    await expect(failing).rejects.toThrow("auth service down");
    expect(http.requests).toEqual([]);

    gate = Promise.withResolvers<void>();
    const both = Promise.all([client.conversations(), client.history("rick")]);
    gate.resolve();
    await both;
    expect(calls).toBe(2);
    expect(http.requests.map((r) => r.authorization)).toEqual(Array(2).fill(`Bearer ${jwt(2, 600)}`));
  });
});

describe("unread counts", () => {
  const T_MS = 250;

  /** A connected client whose HTTP answers come from `http`; `list` is the first page of conversations. */
  async function listed(list: ReturnType<typeof listing>, opts: { since?: number } = {}) {
    const http = new FakeHttp();
    http.answer = () => ({ body: list });
    const made = makeClient({ fetch: http.fetch, ...opts });
    made.client.connect();
    const ws = FakeSocket.latest();
    ws.accept(50);
    ws.pong();
    await made.client.conversations();
    return { ...made, http, ws };
  }

  const ownReadElsewhere = (seq: number, serverId: string, peer = "rick") => ({ ...receipt(seq, serverId), from: "me", to: peer });

  it("start from the list, then count each incoming message past its conversation's lastSeq", async () => {
    const { seen, ws, http } = await listed(listing([conv("rick", 5, 2), conv("morty", 3, 1)]));
    expect(seen.unread).toEqual([
      {
        total: 3,
        conversations: [
          { id: "rick", unread: 2 },
          { id: "morty", unread: 1 },
        ],
      },
    ]);
    // At or below lastSeq (a replay of what the list counted), my own sends, and repeats: no change.
    ws.receive(msg(5));
    ws.receive({ ...msg(6, "mine", "me"), to: "rick" });
    ws.receive(msg(7));
    ws.receive(msg(7));
    ws.receive(msg(8, "hi", "summer"));
    expect(seen.unread.slice(1)).toEqual([
      { total: 4, conversations: [{ id: "rick", unread: 3 }] },
      { total: 5, conversations: [{ id: "summer", unread: 1 }] },
    ]);
    // The whole list was one page: a new conversation is new, with nothing to ask the server.
    await vi.advanceTimersByTimeAsync(10 * T_MS);
    expect(http.requests).toHaveLength(1);
  });

  it("clears a conversation at once when its newest message is read, here or on another device", async () => {
    const { client, seen, ws, http } = await listed(
      listing([conv("rick", 5, 2), { ...conv("morty", 3, 1), last: { ...msg(3, "hi", "morty"), id: "m3" } }]),
    );
    http.answer = () => ({ body: { messages: [msg(4), msg(5)], next: null } });
    await client.history("rick");
    client.markRead("s5");
    expect(ws.frames.at(-1)).toEqual({ type: "ACK_MSG", content: "MESSAGE_READ", message: "s5" });
    expect(seen.unread.at(-1)).toEqual({ total: 1, conversations: [{ id: "rick", unread: 0 }] });

    ws.receive(msg(7));
    ws.receive(msg(8));
    expect(seen.unread.at(-1)).toEqual({ total: 3, conversations: [{ id: "rick", unread: 2 }] });
    // Another tab read up to 7: one left.
    ws.receive(ownReadElsewhere(9, "s7"));
    expect(seen.unread.at(-1)).toEqual({ total: 2, conversations: [{ id: "rick", unread: 1 }] });
    // The list's last message is known without history: morty's is read on another device.
    ws.receive(ownReadElsewhere(10, "m3", "morty"));
    expect(seen.unread.at(-1)).toEqual({ total: 1, conversations: [{ id: "morty", unread: 0 }] });
    await vi.advanceTimersByTimeAsync(10 * T_MS);
    expect(http.paths).toEqual(["/v1/conversations", "/v1/conversations/rick/messages"]);
  });

  it("asks the server when a read is older than the list's view, and asks again until the server has applied it", async () => {
    const { client, seen, http } = await listed(listing([conv("rick", 10, 3, 6)], null, 3));
    http.answer = () => ({ body: { messages: [msg(8), msg(9, "x", "me"), msg(10)], next: null } });
    await client.history("rick");
    const before = seen.unread.length;
    // Of rick's 3 unread (7, 8, 10 perhaps), which are older than 8 only the server knows.
    client.markRead("s8");
    expect(seen.unread).toHaveLength(before);
    // The first answer comes before the server applied the read: the same counts again.
    http.answer = () => ({ body: listing([conv("rick", 10, 3, 6)]) });
    await vi.advanceTimersByTimeAsync(T_MS);
    expect(http.paths.slice(2)).toEqual(["/v1/conversations"]);
    expect(seen.unread).toHaveLength(before);
    http.answer = () => ({ body: listing([conv("rick", 10, 1, 8)]) });
    await vi.advanceTimersByTimeAsync(2 * T_MS);
    expect(http.requests).toHaveLength(4);
    expect(seen.unread.at(-1)).toEqual({ total: 1, conversations: [{ id: "rick", unread: 1 }] });
    await vi.advanceTimersByTimeAsync(20 * T_MS);
    expect(http.requests).toHaveLength(4);
  });

  it("refetches once for a burst of reads it cannot place, with the app's page size", async () => {
    const http = new FakeHttp();
    http.answer = () => ({ body: listing([conv("rick", 5, 2), conv("morty", 3, 1)]) });
    const { client, seen } = makeClient({ fetch: http.fetch });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(50);
    await client.conversations({ limit: 20 });
    // Another device read messages this one never saw.
    ws.receive(ownReadElsewhere(51, "unseen-1"));
    ws.receive(ownReadElsewhere(52, "unseen-2", "morty"));
    client.markRead("unseen-3");
    http.answer = () => ({ body: listing([conv("rick", 5, 0, 5), conv("morty", 3, 0, 3)]) });
    await vi.advanceTimersByTimeAsync(T_MS);
    expect(http.paths).toEqual(["/v1/conversations?limit=20", "/v1/conversations?limit=20"]);
    expect(seen.unread.at(-1)).toEqual({
      total: 0,
      conversations: [
        { id: "rick", unread: 0 },
        { id: "morty", unread: 0 },
      ],
    });
  });

  it("keeps a count from a partial list right: an old conversation's return is counted by the server", async () => {
    // Page one of several: rick and morty; 4 more unread in conversations further down.
    const { client, seen, ws, http } = await listed(listing([conv("rick", 20, 1), conv("morty", 10, 0)], "10", 5));
    expect(seen.unread.at(-1)).toMatchObject({ total: 5 });
    // Older than the page's last conversation: a replay of something the list counted.
    ws.receive(msg(8, "old", "birdperson"));
    expect(seen.unread).toHaveLength(1);
    ws.receive(msg(21, "hello again", "birdperson"));
    expect(seen.unread.at(-1)).toEqual({ total: 6, conversations: [{ id: "birdperson", unread: 1 }] });
    http.answer = () => ({ body: listing([conv("birdperson", 21, 3), conv("rick", 20, 1)], "20", 6) });
    await vi.advanceTimersByTimeAsync(T_MS);
    expect(http.requests).toHaveLength(2);
    expect(seen.unread.at(-1)).toEqual({ total: 6, conversations: [{ id: "birdperson", unread: 3 }] });
    // A later page adds what it shows and takes it out of the rest.
    http.answer = () => ({ body: listing([conv("gazorpazorp", 4, 2)], null, 6) });
    await client.conversations({ before: "10" });
    expect(seen.unread.at(-1)).toEqual({ total: 6, conversations: [{ id: "gazorpazorp", unread: 2 }] });
  });

  it("tries a failed refetch a few times, later each time, then leaves the counts", async () => {
    const { client, http } = await listed(listing([conv("rick", 5, 2)]));
    http.answer = () => {
      throw new TypeError("fetch failed");
    };
    client.markRead("unseen");
    await vi.advanceTimersByTimeAsync(T_MS);
    expect(http.requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2 * T_MS);
    expect(http.requests).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(4 * T_MS);
    expect(http.requests).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(8 * T_MS);
    expect(http.requests).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(100 * T_MS);
    expect(http.requests).toHaveLength(5);
  });

  it("stays quiet until the app lists conversations, and stops refetching on close()", async () => {
    const http = new FakeHttp();
    const { client, seen } = makeClient({ fetch: http.fetch });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(3);
    ws.receive(msg(1));
    client.markRead("s1");
    ws.receive(ownReadElsewhere(2, "other"));
    await vi.advanceTimersByTimeAsync(10 * T_MS);
    expect(seen.unread).toEqual([]);
    expect(http.requests).toEqual([]);

    http.answer = () => ({ body: listing([conv("rick", 1, 1)]) });
    await client.conversations();
    client.markRead("unseen");
    client.close();
    await vi.advanceTimersByTimeAsync(10 * T_MS);
    expect(http.requests).toHaveLength(1);
  });
});

describe("connect({ since })", () => {
  it("resumes after the seq the app learned from the list, but never before what it had", () => {
    const { client, seen } = makeClient();
    client.connect({ since: 7 });
    const ws = FakeSocket.latest();
    expect(ws.query.get("since")).toBe("7");
    ws.accept(9);
    ws.receive(msg(7));
    ws.receive(msg(8));
    expect(seen.messages).toEqual(["m8"]);
    client.close();
    client.connect({ since: 4 });
    expect(FakeSocket.latest().query.get("since")).toBe("8");
  });
});
