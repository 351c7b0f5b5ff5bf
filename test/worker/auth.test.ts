/**
 * Shared-secret tokens under hostile conditions: fail-closed configuration,
 * secret rotation, the exp/nbf leeway at its exact edges, issuer and audience
 * pinning, and numeric identities. Runs the real Worker and objects with
 * per-test settings. JWKS tokens are in auth-jwks.test.ts.
 */
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { verifyToken } from "../../src/auth/token.ts";
import { readConfig } from "../../src/config.ts";
import { connectWith, envWith, expectAccepted } from "./auth-helpers.ts";
import { expectRefused, SECRET, tokenFor, uniqueUser } from "./helpers.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("configuration", () => {
  it("fails closed with 503 naming AUTH_SECRET when neither a secret nor a JWKS URL is set", async () => {
    const reason = await expectRefused(
      await connectWith(envWith({ AUTH_SECRET: undefined }), await tokenFor("u")),
      503,
      "server_misconfigured",
    );
    expect(reason).toContain("AUTH_SECRET");
  });

  it("refuses AUTH_SECRET_PREVIOUS without AUTH_SECRET, an unsafe JWKS URL, and a bad leeway", () => {
    expect(() => readConfig(envWith({ AUTH_SECRET: undefined, AUTH_SECRET_PREVIOUS: "old" }))).toThrow(/AUTH_SECRET/);
    for (const url of ["http://idp.example/jwks.json", "not a url", "ftp://idp.example/jwks.json"]) {
      expect(() => readConfig(envWith({ AUTH_JWKS_URL: url }))).toThrow(/AUTH_JWKS_URL/);
    }
    expect(readConfig(envWith({ AUTH_JWKS_URL: "http://localhost:8080/jwks.json" })).auth.jwksUrl?.href).toBe(
      "http://localhost:8080/jwks.json",
    );
    for (const leeway of ["-1", "1.5", "301", "soon"]) {
      expect(() => readConfig(envWith({ AUTH_CLOCK_TOLERANCE_SECONDS: leeway }))).toThrow(/AUTH_CLOCK_TOLERANCE_SECONDS/);
    }
    expect(readConfig(envWith({})).auth.clockToleranceSeconds).toBe(30);
    expect(readConfig(envWith({ AUTH_CLOCK_TOLERANCE_SECONDS: "0" })).auth.clockToleranceSeconds).toBe(0);
    expect(readConfig(envWith({ AUTH_CLOCK_TOLERANCE_SECONDS: "300" })).auth.clockToleranceSeconds).toBe(300);
  });
});

describe("secret rotation", () => {
  const rotating = envWith({ AUTH_SECRET: "new-secret", AUTH_SECRET_PREVIOUS: SECRET });

  it("accepts tokens signed with the current or the previous secret, and no other", async () => {
    const current = uniqueUser("current");
    const previous = uniqueUser("previous");
    expect(await expectAccepted(await connectWith(rotating, await tokenFor(current, { secret: "new-secret" })))).toBe(current);
    expect(await expectAccepted(await connectWith(rotating, await tokenFor(previous)))).toBe(previous);
    await expectRefused(await connectWith(rotating, await tokenFor("u", { secret: "older-secret" })), 401, "invalid_token");
  });

  it("stops accepting the previous secret once AUTH_SECRET_PREVIOUS is removed", async () => {
    await expectRefused(await connectWith(envWith({ AUTH_SECRET: "new-secret" }), await tokenFor("u")), 401, "invalid_token");
  });

  it("checks the claims of tokens signed with either secret", async () => {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    for (const secret of ["new-secret", SECRET]) {
      await expectRefused(await connectWith(rotating, await tokenFor("u", { secret, expiresIn: hourAgo })), 401, "expired_token");
    }
    const notYet = await tokenFor("u", { notBefore: Math.floor(Date.now() / 1000) + 3600 });
    await expectRefused(await connectWith(rotating, notYet), 401, "invalid_token");
  });
});

describe("clock leeway", () => {
  // Time is pinned so that the edges are exact, not "about 30 s".
  const NOW = 1_900_000_000;
  const pinned = () => vi.setSystemTime(NOW * 1000);

  it("accepts a token up to 29 s past exp by default, and refuses it at 30 s", async () => {
    pinned();
    const settings = envWith({});
    const user = uniqueUser("late");
    expect(await expectAccepted(await connectWith(settings, await tokenFor(user, { expiresIn: NOW - 29 })))).toBe(user);
    await expectRefused(await connectWith(settings, await tokenFor(user, { expiresIn: NOW - 30 })), 401, "expired_token");
  });

  it("accepts a token whose nbf is up to 30 s ahead by default, and refuses it at 31 s", async () => {
    pinned();
    const settings = envWith({});
    const user = uniqueUser("early");
    expect(await expectAccepted(await connectWith(settings, await tokenFor(user, { notBefore: NOW + 30 })))).toBe(user);
    await expectRefused(await connectWith(settings, await tokenFor(user, { notBefore: NOW + 31 })), 401, "invalid_token");
  });

  it("is exact with AUTH_CLOCK_TOLERANCE_SECONDS=0", async () => {
    pinned();
    const settings = envWith({ AUTH_CLOCK_TOLERANCE_SECONDS: "0" });
    const user = uniqueUser("strict");
    expect(await expectAccepted(await connectWith(settings, await tokenFor(user, { expiresIn: NOW + 1, notBefore: NOW })))).toBe(user);
    await expectRefused(await connectWith(settings, await tokenFor(user, { expiresIn: NOW })), 401, "expired_token");
    await expectRefused(await connectWith(settings, await tokenFor(user, { notBefore: NOW + 1 })), 401, "invalid_token");
  });

  it("reports the socket's end of validity as exp plus the leeway", async () => {
    pinned();
    const result = await verifyToken(await tokenFor("u", { expiresIn: NOW + 60 }), readConfig(envWith({})));
    expect(result).toEqual({ ok: true, identity: "u", expiresAt: (NOW + 90) * 1000 });
  });
});

describe("issuer and audience", () => {
  const pinnedClaims = envWith({ AUTH_ISSUER: "https://app.example, https://old-app.example", AUTH_AUDIENCE: "lunarloom" });

  it("accepts any of the configured issuers with the configured audience", async () => {
    for (const iss of ["https://app.example", "https://old-app.example"]) {
      const user = uniqueUser("iss");
      expect(
        await expectAccepted(await connectWith(pinnedClaims, await tokenFor(user, { claims: { iss, aud: ["other", "lunarloom"] } }))),
      ).toBe(user);
    }
  });

  it("refuses a wrong or missing issuer", async () => {
    for (const iss of ["https://evil.example", undefined]) {
      await expectRefused(
        await connectWith(pinnedClaims, await tokenFor("u", { claims: { iss, aud: "lunarloom" } })),
        401,
        "invalid_token",
      );
    }
  });

  it("refuses a wrong or missing audience", async () => {
    for (const aud of ["other-service", undefined]) {
      await expectRefused(
        await connectWith(pinnedClaims, await tokenFor("u", { claims: { iss: "https://app.example", aud } })),
        401,
        "invalid_token",
      );
    }
  });
});

describe("identity claim", () => {
  it("accepts a safe integer, as its decimal string", async () => {
    const id = Math.floor(Math.random() * 1e12);
    expect(await expectAccepted(await connectWith(envWith({}), await tokenFor("ignored", { claims: { userId: id } })))).toBe(String(id));
  });

  it("refuses numbers that are not safe integers, and other types", async () => {
    for (const userId of [1.5, 2 ** 53, true, { id: "u" }, ["u"]]) {
      await expectRefused(await connectWith(envWith({}), await tokenFor("u", { claims: { userId } })), 401, "missing_identity");
    }
  });

  it("reads the claim IDENTITY_CLAIM names", async () => {
    const user = uniqueUser("sub");
    const token = await new SignJWT({ sub: user, userId: "someone-else" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(SECRET));
    expect(await expectAccepted(await connectWith(envWith({ IDENTITY_CLAIM: "sub" }), token))).toBe(user);
  });
});
