/**
 * Limits that protect the service from one client (issue 4) and bound what a
 * user's object keeps (retention), with small values from the
 * "worker-limits" project: 5 frames/s, burst 10, 3 sockets a user, 5 log rows.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { Client, tokenFor, uniqueUser, upgrade } from "../worker/helpers.ts";

const stub = (user: string) => env.USERS.getByName(user);

describe("per-user send rate", () => {
  it("answers frames over the burst with RATE_LIMITED, keeps what was acked, and shares the bucket across sockets", async () => {
    const me = uniqueUser("flood");
    const b = await Client.connect(uniqueUser("calm"));
    const [s1, s2] = [await Client.connect(me), await Client.connect(me)];
    // 16 frames against a burst of 10: some are refused even if a loaded machine takes a second to hand them over (5/s refill).
    for (let i = 0; i < 8; i++) s1.send({ id: `a${i}`, to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    for (let i = 0; i < 8; i++) s2.send({ id: `b${i}`, to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    // s2 also sees copies of s1's sends; count acks and errors only.
    const replies = [...(await s1.drain()), ...(await s2.drain())].filter((f) => f.type !== "USER_MSG");
    const acked = replies.filter((f) => f.content === "MESSAGE_RECEIVED");
    const limited = replies.filter((f) => f.content === "ERROR");
    expect(acked.length + limited.length).toBe(16);
    expect(acked.length).toBeGreaterThanOrEqual(10);
    expect(limited.length).toBeGreaterThan(0);
    for (const e of limited) expect(e.message).toMatchObject({ code: "RATE_LIMITED", ref: expect.any(String) });
    // Everything acked was delivered.
    const got = await b.take(acked.length);
    expect(new Set(got.map((f) => f.id))).toEqual(new Set(acked.map((f) => f.message)));
  });

  it("refills over time", async () => {
    const a = await Client.connect(uniqueUser("patient"));
    // Past the burst of 10, with room for a loaded machine's slow hand-over (5/s refill).
    for (let i = 0; i < 16; i++) a.send({ id: `p${i}`, to: "x", type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    const replies = await a.take(16);
    const refused = replies.find((f) => f.content === "ERROR");
    expect(refused?.message.code).toBe("RATE_LIMITED");
    await new Promise((r) => setTimeout(r, 450)); // 5/s: two tokens back
    // The refused message first (holdback.test.ts), then anything new.
    expect((await a.message("x", "resent", refused!.message.ref)).content).toBe("MESSAGE_RECEIVED");
    expect((await a.message("x", "again")).content).toBe("MESSAGE_RECEIVED");
  });

  it("closes a socket with 1008 after sustained abuse, and a flooder never silences another user", async () => {
    const flooder = await Client.connect(uniqueUser("abuser"));
    const [x, y] = [await Client.connect(uniqueUser("x")), await Client.connect(uniqueUser("y"))];
    // Frames that are not held back (holdback.test.ts), each over the rate.
    for (let i = 0; i < 40; i++) flooder.send({ id: `f${i}`, to: y.user, type: "EVENT_MSG", content: "TYPING", message: i % 2 === 0 });
    const ack = await x.message(y.user, "not silenced");
    // y also gets the flooder's typing, from another object: any of it may come first.
    expect(await y.expect({ id: ack.message })).toMatchObject({ from: x.user, message: "not silenced" });
    expect(await flooder.closing()).toEqual({ code: 1008, reason: "rate limit exceeded repeatedly" });
  });
});

describe("ephemeral frames and the rate bucket", () => {
  it("counts TYPING and PRESENCE_SUBSCRIBE against the sender's bucket like any frame", async () => {
    const a = await Client.connect(uniqueUser("typist"));
    // 16 frames against a burst of 10, with room for a loaded machine's slow hand-over (5/s refill).
    for (let i = 0; i < 8; i++) a.send({ id: `t${i}`, type: "EVENT_MSG", content: "TYPING", to: "someone", message: i % 2 === 0 });
    for (let i = 0; i < 8; i++) a.send({ id: `p${i}`, type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [] });
    const errors = (await a.drain()).filter((f) => f.content === "ERROR").map((f) => f.message.code);
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors)).toEqual(new Set(["RATE_LIMITED"]));
  });
});

describe("frame size", () => {
  it("follows MAX_MESSAGE_BYTES (1024 here), counted in bytes", async () => {
    const a = await Client.connect(uniqueUser("size"));
    const to = uniqueUser("size-to");
    const frame = (id: string, message: string) => JSON.stringify({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });
    const fits = frame("fits", "a".repeat(1024 - frame("fits", "").length));
    expect(new TextEncoder().encode(fits).length).toBe(1024);
    a.send(fits);
    expect(await a.next()).toMatchObject({ id: "fits", content: "MESSAGE_RECEIVED" });
    a.send(frame("over", "a".repeat(1025 - frame("over", "").length)));
    expect(await a.next()).toMatchObject({ content: "ERROR", message: { code: "TOO_LARGE", ref: "over" } });
    expect((await a.message(to, "still up")).type).toBe("ACK_MSG");
  });
});

describe("connection attempts per address", () => {
  it("answers 429 with a JSON body past the limit, before any token work, and only for that address", async () => {
    // Fresh each run: the limiter's window outlives a test run in watch mode.
    const flooder = `2001:db8::${crypto.randomUUID().slice(0, 4)}`;
    const statuses = [];
    for (let i = 0; i < 21; i++) statuses.push((await upgrade("", { "CF-Connecting-IP": flooder })).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    const refused = await upgrade(`?Authentication=${await tokenFor(uniqueUser("valid"))}`, { "CF-Connecting-IP": flooder });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: "too_many_connections", reason: expect.any(String) });
    // Another address is not affected.
    const other = await upgrade(`?Authentication=${await tokenFor(uniqueUser("neighbour"))}`, { "CF-Connecting-IP": "203.0.113.8" });
    expect(other.status).toBe(101);
    other.webSocket!.accept();
    other.webSocket!.close(1000);
  });
});

describe("origins", () => {
  it("refuses an Origin not in ALLOWED_ORIGINS with 403 before upgrading", async () => {
    const token = await tokenFor(uniqueUser("cswsh"));
    const res = await upgrade(`?Authentication=${token}`, { Origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.webSocket).toBeNull();
    expect(await res.json()).toEqual({ error: "forbidden_origin", reason: expect.any(String) });
  });

  it("accepts listed origins and clients that send no Origin (servers, CLIs)", async () => {
    for (const headers of [{ Origin: "https://app.example" }, {}] as Record<string, string>[]) {
      const res = await upgrade(`?Authentication=${await tokenFor(uniqueUser("ok"))}`, headers);
      expect(res.status).toBe(101);
      res.webSocket!.accept();
      res.webSocket!.close(1000);
    }
  });
});

describe("sockets per user", () => {
  it("closes the oldest socket with 4008 when a user opens one too many", async () => {
    const me = uniqueUser("tabs");
    const first = await Client.connect(me);
    const others = [await Client.connect(me), await Client.connect(me)];
    const newest = await Client.connect(me);
    expect(await first.closing()).toEqual({ code: 4008, reason: "more than 3 sockets for this user; the oldest was closed" });
    for (const c of [...others, newest]) expect(c.closed).toBeNull();
    const peer = await Client.connect(uniqueUser("peer"));
    const ack = await peer.message(me, "to the open ones");
    for (const c of [...others, newest]) expect(await c.next()).toMatchObject({ id: ack.message });
  });
});

describe("retention", () => {
  it("keeps at most LOG_MAX_ROWS entries per user, dropping the oldest", async () => {
    const a = await Client.connect(uniqueUser("chatty"));
    const bob = uniqueUser("capped");
    for (let i = 0; i < 7; i++) await a.message(bob, i);
    // Delivery runs after each ack: the seventh is in bob's log before the replay reads it.
    const newest = () =>
      runInDurableObject(env.USERS.getByName(bob), (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT max(seq) AS n FROM log").one().n);
    await vi.waitFor(async () => expect(await newest()).toBe(7));
    const replay = await (await Client.connect(bob, { since: 0 })).take(5);
    expect(replay.map((f) => [f.seq, f.message])).toEqual([
      [3, 2],
      [4, 3],
      [5, 4],
      [6, 5],
      [7, 6],
    ]);
  });

  it("drops log (with its dedupe ids) and receipt rows older than RETENTION_DAYS by alarm, and schedules the next expiry", async () => {
    const me = uniqueUser("old");
    const peer = uniqueUser("peer");
    const a = await Client.connect(me);
    const p = await Client.connect(peer);
    const ancient = await a.message(peer, "ancient", "old-id");
    const theirs = await p.message(me, "read me");
    expect(await a.next()).toMatchObject({ id: theirs.message });
    a.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: theirs.message });
    expect(await a.drain()).toEqual([]);
    const day = 86_400_000;
    await runInDurableObject(stub(me), (_o, state) => {
      state.storage.sql.exec("UPDATE log SET created = created - ?", 31 * day);
      state.storage.sql.exec("UPDATE receipts SET created = created - ?", 31 * day);
    });
    await a.message(peer, "recent");
    // No socket left, so no token expiry competes for the alarm: what remains is retention's own.
    a.close();
    await a.closing();
    await runDurableObjectAlarm(stub(me));
    const left = await runInDurableObject(stub(me), async (_o, state) => ({
      log: state.storage.sql
        .exec<{ id: string }>("SELECT id FROM log")
        .toArray()
        .map((r) => r.id),
      receipts: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM receipts").one().n,
      oldest: state.storage.sql.exec<{ t: number }>("SELECT min(created) AS t FROM log").one().t,
      alarm: await state.storage.getAlarm(),
    }));
    expect(left.log).toHaveLength(1);
    expect(left.log).not.toContain(ancient.message);
    expect(left.receipts).toBe(0);
    expect(left.alarm).toBe(left.oldest + 30 * day);
    // The expired client id is forgotten: reusing it is a new message.
    const again = await Client.connect(me);
    const reused = await again.message(peer, "new again", "old-id");
    expect(reused.message).not.toBe(ancient.message);
  });
});
