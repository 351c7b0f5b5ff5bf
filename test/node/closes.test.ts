/**
 * Server-initiated closes reach the client within a second, whether or not
 * the socket ever sent a frame (PROTOCOL.md, Token expiry and refresh), as a
 * client sees them: a real `wrangler dev` on loopback and Node's WebSocket,
 * timed from the moment the server had its reason to close to the client's
 * close event. The sockets closed here never sent a frame unless the close
 * is the answer to one (4001 on send, 1008). Without the Worker's relay
 * (src/relay.ts) the first three take about 10 s under this runtime.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY, DEV_AUTH_SECRET } from "../../src/auth/devtoken.ts";
import { type DevServer, startDevServer } from "./devserver.ts";
import { uniqueUser, WsClient } from "./wsclient.ts";

/** PROTOCOL.md promises a second; the rest is room for a loaded CI machine. */
const WITHIN_MS = 1500;

let server: DevServer;
const sockets: WsClient[] = [];

beforeAll(async () => {
  server = await startDevServer({
    vars: { MAX_SOCKETS_PER_USER: "3", AUTH_CLOCK_TOLERANCE_SECONDS: "0", RATE_LIMIT_PER_SECOND: "5", RATE_LIMIT_BURST: "10" },
  });
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.stop();
});

async function connect(user: string, token?: string): Promise<WsClient> {
  const c = await WsClient.connect(server, user, token === undefined ? {} : { token });
  sockets.push(c);
  return c;
}

/** A token that expires in one to two seconds (`exp` is in whole seconds), and the moment it does. */
async function expiringToken(user: string): Promise<{ token: string; expiresAt: number }> {
  const exp = Math.ceil(Date.now() / 1000) + 1;
  const token = await new SignJWT({ userId: user })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(DEV_AUTH_SECRET));
  return { token, expiresAt: exp * 1000 };
}

const sleepPast = (at: number) => new Promise((r) => setTimeout(r, at - Date.now() + 100));

/** ms from `since` to the close event, and its code. */
async function closeAfter(c: WsClient, since: number): Promise<{ code: number; ms: number }> {
  const { code } = await c.closing(15_000);
  return { code, ms: Date.now() - since };
}

describe("server-initiated closes reach the client within a second", () => {
  it("4008: the oldest of too many sockets, which never sent a frame", async () => {
    const user = uniqueUser("tabs");
    const oldest = await connect(user);
    await connect(user);
    await connect(user);
    const t0 = Date.now();
    await connect(user);
    const { code, ms } = await closeAfter(oldest, t0);
    expect(code).toBe(4008);
    expect(ms).toBeLessThan(WITHIN_MS);
  });

  it("4001: a frame about to be delivered to an expired socket that never sent a frame", async () => {
    const user = uniqueUser("expired");
    const { token, expiresAt } = await expiringToken(user);
    const c = await connect(user, token);
    const sender = await connect(uniqueUser("sender"));
    await sleepPast(expiresAt);
    const t0 = Date.now();
    sender.sendMessage("m-1", user, "after your token expired");
    const { code, ms } = await closeAfter(c, t0);
    expect(code).toBe(4001);
    expect(ms).toBeLessThan(WITHIN_MS);
    expect(c.frames.some((f) => f.message === "after your token expired")).toBe(false);
  });

  it("4001: a frame sent on an expired socket", async () => {
    const user = uniqueUser("late");
    const { token, expiresAt } = await expiringToken(user);
    const c = await connect(user, token);
    await sleepPast(expiresAt);
    const t0 = Date.now();
    c.sendMessage("late-1", uniqueUser("x"), "too late");
    const { code, ms } = await closeAfter(c, t0);
    expect(code).toBe(4001);
    expect(ms).toBeLessThan(WITHIN_MS);
  });

  it("4003: the server API disconnects a user whose sockets never sent a frame", async () => {
    const user = uniqueUser("kicked");
    const [a, b] = [await connect(user), await connect(user)];
    const t0 = Date.now();
    const res = await fetch(`${server.url}/v1/admin/users/${user}/disconnect`, {
      method: "POST",
      headers: { Authorization: `Bearer ${DEV_API_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ reason: "bye" }),
    });
    expect(res.status).toBe(200);
    for (const c of [a, b]) {
      const { code, ms } = await closeAfter(c, t0);
      expect(code).toBe(4003);
      expect(ms).toBeLessThan(WITHIN_MS);
    }
  });

  it("1008: a socket that keeps sending through a burst of RATE_LIMITED", async () => {
    const c = await connect(uniqueUser("flood"));
    const to = uniqueUser("target");
    for (let i = 0; i < 40; i++) c.sendMessage(`f${i}`, to, i);
    const t0 = Date.now();
    const { code, ms } = await closeAfter(c, t0);
    expect(code).toBe(1008);
    expect(ms).toBeLessThan(WITHIN_MS);
  });
});
