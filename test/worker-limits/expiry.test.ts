/**
 * Token expiry without an alarm, and TOKEN_REFRESH (PROTOCOL.md, Token expiry
 * and refresh), on real objects. The worker-limits project sets
 * AUTH_CLOCK_TOLERANCE_SECONDS=0, so a token expires exactly at its `exp`.
 * Proves: no alarm per connect; an expired socket is closed with 4001 when it
 * sends (the frame is not handled) or when a frame is about to be handed to
 * it (the frame stays in the log, and in the offline queue if no socket took
 * it); a refresh extends a socket, and a bad one leaves it as it was.
 * Timing of the close as a client sees it under wrangler dev: test/node/closes.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Client, SECRET, TIME, tokenFor, uniqueUser, upgrade } from "../worker/helpers.ts";

const stub = (user: string) => env.USERS.getByName(user);
const EXPIRED = { code: 4001, reason: "token expired; reconnect with a fresh token" };
/** Closes reach the client within a second (PROTOCOL.md); the bound leaves room for a loaded CI machine. */
const CLOSE_MS = 1500;

/** When each socket made by connectExpiring stops being valid (ms). */
const expiry = new WeakMap<Client, number>();

/** A socket whose token expires at least `seconds` from now (`exp` is in whole seconds). */
async function connectExpiring(user: string, seconds: number): Promise<Client> {
  const exp = Math.ceil(Date.now() / 1000) + seconds;
  const res = await upgrade(`?Authentication=${await tokenFor(user, { expiresIn: exp })}`);
  expect(res.status).toBe(101);
  const client = await Client.adopt(user, res.webSocket!);
  expiry.set(client, exp * 1000);
  return client;
}

/** Waits until the token of a socket made by connectExpiring has expired. */
const outlive = (c: Client) => new Promise((r) => setTimeout(r, expiry.get(c)! - Date.now() + 100));

const logRows = (user: string) =>
  runInDurableObject(stub(user), (_o, state) => {
    const hasLog = state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'log'").toArray().length > 0;
    return hasLog ? state.storage.sql.exec<{ id: string; queued: number }>("SELECT id, queued FROM log ORDER BY seq").toArray() : [];
  });

describe("token expiry", () => {
  it("arms no alarm when a socket with an expiring token connects", async () => {
    const user = uniqueUser("noalarm");
    await connectExpiring(user, 60);
    expect(await runInDurableObject(stub(user), (_o, state) => state.storage.getAlarm())).toBeNull();
  });

  it("does not handle a frame sent on an expired socket: no ack, no error, nothing stored, closed 4001", { timeout: 15_000 }, async () => {
    const user = uniqueUser("late");
    const peer = await Client.connect(uniqueUser("peer"));
    const c = await connectExpiring(user, 1);
    await outlive(c);
    expect(c.closed).toBeNull();
    c.send({ id: "late", to: peer.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "too late" });
    expect(await c.closing(CLOSE_MS)).toEqual(EXPIRED);
    expect(c.frames.slice(1)).toEqual([]);
    expect(await logRows(user)).toEqual([]);
    await peer.expectNothingMore();
    // Reconnected with a fresh token, the resend is a new message.
    const again = await Client.connect(user);
    const ack = await again.message(peer.user, "too late", "late");
    expect(await peer.expect({ id: ack.message })).toMatchObject({ message: "too late" });
  });

  it("closes an expired socket instead of handing it a frame; the frame stays queued and is replayed after reconnect", {
    timeout: 15_000,
  }, async () => {
    const bob = uniqueUser("expired");
    const alice = await Client.connect(uniqueUser("alice"));
    const c = await connectExpiring(bob, 1);
    await outlive(c);
    const ack = await alice.message(bob, "after expiry");
    expect(await c.closing(CLOSE_MS)).toEqual(EXPIRED);
    expect(c.frames.some((f) => f.id === ack.message)).toBe(false);
    expect(await logRows(bob)).toEqual([{ id: ack.message, queued: 1 }]);
    // The offline queue has it (no socket took it)…
    const fresh = await Client.connect(bob);
    expect(await fresh.next()).toMatchObject({ id: ack.message, message: "after expiry", seq: 1 });
    // …and so does the log, for a client that resumes with since.
    const resumed = await Client.connect(bob, { since: 0 });
    expect(await resumed.next()).toMatchObject({ id: ack.message, seq: 1 });
  });

  it("hands the frame to the user's other, valid sockets: then it is not queued", { timeout: 15_000 }, async () => {
    const bob = uniqueUser("twosockets");
    const alice = await Client.connect(uniqueUser("alice"));
    const expiring = await connectExpiring(bob, 1);
    const valid = await Client.connect(bob);
    await outlive(expiring);
    const ack = await alice.message(bob, "to the valid one");
    expect(await valid.expect({ id: ack.message })).toMatchObject({ message: "to the valid one" });
    expect(await expiring.closing(CLOSE_MS)).toEqual(EXPIRED);
    expect(expiring.frames.some((f) => f.id === ack.message)).toBe(false);
    expect(await logRows(bob)).toEqual([{ id: ack.message, queued: 0 }]);
  });

  it("does not copy a user's own send to their expired socket", { timeout: 15_000 }, async () => {
    const me = uniqueUser("copies");
    const expiring = await connectExpiring(me, 1);
    const valid = await Client.connect(me);
    await outlive(expiring);
    const ack = await valid.message(uniqueUser("peer"), "mine");
    expect(await expiring.closing(CLOSE_MS)).toEqual(EXPIRED);
    expect(expiring.frames.some((f) => f.id === ack.message)).toBe(false);
  });
});

describe("TOKEN_REFRESH", () => {
  const refresh = (c: Client, id: string, message: unknown) => c.send({ id, type: "SYSTEM_MSG", content: "TOKEN_REFRESH", message });

  it("extends the socket past its old expiry and answers TOKEN_REFRESHED with the new one", { timeout: 15_000 }, async () => {
    const user = uniqueUser("refresher");
    const c = await connectExpiring(user, 1);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    refresh(c, "r-1", await tokenFor(user, { expiresIn: exp }));
    expect(await c.expect({ id: "r-1" })).toEqual({
      id: "r-1",
      from: "system",
      type: "ACK_MSG",
      time: expect.stringMatching(TIME),
      content: "TOKEN_REFRESHED",
      message: { expires: `${new Date(exp * 1000).toISOString().slice(0, 19)}Z` },
    });
    await outlive(c);
    const peer = await Client.connect(uniqueUser("peer"));
    const ack = await c.message(peer.user, "still here");
    expect(await peer.expect({ id: ack.message })).toMatchObject({ message: "still here" });
    const toMe = await peer.message(user, "and you still hear me");
    expect(await c.expect({ id: toMe.message })).toMatchObject({ message: "and you still hear me" });
    expect(c.closed).toBeNull();
  });

  it("answers expires: null for a token without exp", async () => {
    const user = uniqueUser("forever");
    const c = await connectExpiring(user, 60);
    const token = await new (await import("jose")).SignJWT({ userId: user })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(SECRET));
    refresh(c, "r-2", token);
    expect(await c.expect({ id: "r-2" })).toMatchObject({ content: "TOKEN_REFRESHED", message: { expires: null } });
  });

  it("refuses a bad token with BAD_TOKEN and ref, keeps the socket, and keeps its old expiry", { timeout: 15_000 }, async () => {
    const user = uniqueUser("badrefresh");
    const c = await connectExpiring(user, 2);
    const later = Math.floor(Date.now() / 1000) + 3600;
    const bad: [string, string][] = [
      ["other", await tokenFor(uniqueUser("someone-else"), { expiresIn: later })],
      ["forged", await tokenFor(user, { expiresIn: later, secret: "not-the-secret" })],
      ["expired", await tokenFor(user, { expiresIn: Math.floor(Date.now() / 1000) - 10 })],
      ["garbage", "not.a.jwt"],
    ];
    for (const [id, token] of bad) refresh(c, id, token);
    const reasons: Record<string, string> = {};
    for (const [id] of bad) {
      const err = await c.error(id);
      expect(err.message.code).toBe("BAD_TOKEN");
      reasons[id] = err.message.reason;
    }
    expect(reasons.other).toMatch(/another user/);
    expect(reasons.expired).toMatch(/expired/);
    expect(c.closed).toBeNull();
    // Still the old expiry: the socket dies with its first token.
    await outlive(c);
    c.send({ id: "after", to: "x", type: "USER_MSG", content: "TEXT_MESSAGE", message: 1 });
    expect(await c.closing(CLOSE_MS)).toEqual(EXPIRED);
  });

  it("answers a refresh without a usable token with BAD_MESSAGE and ref, never a close", async () => {
    const user = uniqueUser("malformed");
    const c = await Client.connect(user);
    refresh(c, "m-1", undefined);
    refresh(c, "m-2", 42);
    refresh(c, "m-3", "");
    refresh(c, "m-4", { token: "x" });
    for (const id of ["m-1", "m-2", "m-3", "m-4"]) expect(await c.error(id)).toMatchObject({ message: { code: "BAD_MESSAGE" } });
    expect((await c.message(uniqueUser("peer"), "socket still up")).content).toBe("MESSAGE_RECEIVED");
  });
});
