/**
 * The Connecting table of PROTOCOL.md: every refusal is an HTTP answer with a
 * JSON body before any upgrade, and an accepted socket starts with CONNECTION_ID.
 * Runs the real Worker and objects; does not cover token hardening (JWKS, rotation).
 */
import { exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { Client, expectRefused, TIME, tokenFor, UUID, uniqueUser, upgrade } from "./helpers.ts";

describe("routes", () => {
  it("answers /health with 200 and a JSON body", async () => {
    const res = await exports.default.fetch("http://edge.test/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("answers other paths with 404", async () => {
    await expectRefused(await exports.default.fetch("http://edge.test/nope", { headers: { Upgrade: "websocket" } }), 404, "not_found");
  });

  it("answers /ws without an upgrade with 426", async () => {
    const token = await tokenFor("u");
    await expectRefused(await exports.default.fetch(`http://edge.test/ws?Authentication=${token}`), 426, "upgrade_required");
  });
});

describe("tokens", () => {
  it("refuses a missing token", async () => {
    await expectRefused(await upgrade(""), 401, "missing_token");
  });

  it("refuses a malformed token", async () => {
    await expectRefused(await upgrade("?Authentication=not.a.jwt"), 401, "invalid_token");
  });

  it("refuses a bad signature", async () => {
    await expectRefused(await upgrade(`?Authentication=${await tokenFor("u", { secret: "other-secret" })}`), 401, "invalid_token");
  });

  it("refuses an alg other than HS256, including none", async () => {
    const hs512 = await new SignJWT({ userId: "u" })
      .setProtectedHeader({ alg: "HS512" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("test-secret"));
    await expectRefused(await upgrade(`?Authentication=${hs512}`), 401, "invalid_token");
    const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ userId: "u" })}.`;
    await expectRefused(await upgrade(`?Authentication=${none}`), 401, "invalid_token");
  });

  it("refuses an expired token", async () => {
    const token = await tokenFor("u", { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    await expectRefused(await upgrade(`?Authentication=${token}`), 401, "expired_token");
  });

  it("refuses a token that is not yet valid", async () => {
    const token = await tokenFor("u", { notBefore: Math.floor(Date.now() / 1000) + 3600 });
    await expectRefused(await upgrade(`?Authentication=${token}`), 401, "invalid_token");
  });

  it("refuses a missing, empty or over-long identity", async () => {
    for (const userId of [undefined, "", "x".repeat(129)]) {
      const token = await tokenFor("u", { claims: { userId } });
      await expectRefused(await upgrade(`?Authentication=${token}`), 401, "missing_identity");
    }
  });

  it("refuses the reserved identities: system and group ids", async () => {
    for (const userId of ["system", `group:${crypto.randomUUID()}`, "group:anything"]) {
      const token = await tokenFor("u", { claims: { userId } });
      const reason = await expectRefused(await upgrade(`?Authentication=${token}`), 401, "missing_identity");
      expect(reason).toMatch(/reserved/);
    }
  });

  it("accepts the token in an Authorization header", async () => {
    const user = uniqueUser("header");
    const res = await upgrade("", { Authorization: `Bearer ${await tokenFor(user)}` });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });

  it("accepts tokens shaped like jsonwebtoken.sign({ email, userId, username }, secret, { expiresIn, issuer })", async () => {
    const user = uniqueUser("jwt");
    const token = await tokenFor(user, { claims: { email: "a@b.c", username: "A" } });
    const res = await upgrade(`?Authentication=${token}`);
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    res.webSocket!.close(1000);
  });

  it("refuses a malformed since before upgrading", async () => {
    await expectRefused(await upgrade(`?Authentication=${await tokenFor("u")}&since=-1`), 400, "bad_since");
  });
});

describe("identity and expiry come from the token only", () => {
  // The object trusts these two headers from the Worker; a client's own copies must never reach it.
  it("overwrites a client's X-LunarLoom-User", async () => {
    const john = uniqueUser("john");
    const rick = uniqueUser("rick");
    const res = await upgrade(`?Authentication=${await tokenFor(john)}`, { "X-LunarLoom-User": rick });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    ws.accept();
    const client = await Client.adopt(john, ws);
    const ack = await client.message(uniqueUser("someone"), "who am I");
    expect(ack.from).toBe(john);
    client.close();
  });

  it("overwrites a client's X-LunarLoom-Expires, and drops it for a token without exp", async () => {
    const never = await new SignJWT({ userId: uniqueUser("noexp") })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("test-secret"));
    for (const token of [await tokenFor(uniqueUser("tenhours")), never]) {
      // Expiry at 1 ms past the epoch: believed, it would close the socket (4001) on its first frame.
      const res = await upgrade(`?Authentication=${token}`, { "X-LunarLoom-Expires": "1" });
      expect(res.status).toBe(101);
      const ws = res.webSocket!;
      ws.accept();
      const client = await Client.adopt("any", ws);
      expect((await client.message(uniqueUser("someone"), "still here")).type).toBe("ACK_MSG");
      expect(client.closed).toBeNull();
      client.close();
    }
  });
});

describe("CONNECTION_ID", () => {
  it("is the first frame, with the user, a connection id, seq 0 for a new user and the limits to pace by", async () => {
    const user = uniqueUser("hello");
    const { client, hello } = await Client.open(user);
    expect(hello).toEqual({
      id: expect.stringMatching(UUID),
      from: "system",
      to: user,
      type: "SYSTEM_MSG",
      time: expect.stringMatching(TIME),
      content: "CONNECTION_ID",
      // The worker project's configured limits (test/vitest.config.ts); MAX_MESSAGE_BYTES is the default.
      message: {
        connectionId: expect.stringMatching(UUID),
        user,
        seq: 0,
        limits: { maxMessageBytes: 65536, ratePerSecond: 100000, rateBurst: 100000 },
      },
    });
    client.close();
  });

  it("gives every socket its own connection id", async () => {
    const user = uniqueUser("twice");
    const a = await Client.open(user);
    const b = await Client.open(user);
    expect(a.hello.message.connectionId).not.toBe(b.hello.message.connectionId);
    a.client.close();
    b.client.close();
  });
});

describe("closing", () => {
  it("answers a client's close with the same code and reason", async () => {
    const { client } = await Client.open(uniqueUser("bye"));
    client.ws.close(4321, "see you");
    expect(await client.closing()).toEqual({ code: 4321, reason: "see you" });
  });
});

describe("keep-alive", () => {
  it("answers a text ping with pong", async () => {
    const client = await Client.connect(uniqueUser("ping"));
    client.send("ping");
    expect(await client.next()).toEqual({ pong: true });
    client.close();
  });
});

describe("misconfiguration", () => {
  it("answers a bad var with a 500 JSON body naming it, not a bare error", async () => {
    const worker = (await import("../../src/index.ts")).default;
    const { env } = await import("cloudflare:workers");
    const { createExecutionContext } = await import("cloudflare:test");
    const res = await worker.fetch(
      new Request("http://edge.test/ws", { headers: { Upgrade: "websocket" } }),
      {
        ...env,
        MAX_MESSAGE_BYTES: "lots",
      },
      createExecutionContext(),
    );
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal", reason: expect.stringContaining("MAX_MESSAGE_BYTES") });
  });
});
