/**
 * Tokens from an identity provider's JWKS: RS256 and ES256 with real keys,
 * key caching per isolate, rotation at the IdP, an unknown-kid flood, alg
 * pinning (none, HS/RS confusion, algorithms the IdP did not pin), issuer and
 * audience, and an IdP that is down. The IdP is a stand-in answering
 * `globalThis.fetch`, which the Worker shares with the tests (same isolate):
 * no network. Does not cover jose's 5 s fetch timeout (it would cost 5 s).
 */
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { connectWith, envWith, expectAccepted } from "./auth-helpers.ts";
import { expectRefused, SECRET, tokenFor, uniqueUser } from "./helpers.ts";

const ISSUER = "https://idp.example/";
const AUDIENCE = "lunarloom-edge";

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg}-${crypto.randomUUID()}`;
  return { kid, alg, privateKey, publicKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** A stand-in IdP at its own URL, so every test starts with a cold key set. */
class FakeIdp {
  readonly url = `https://${crypto.randomUUID()}.idp.example/.well-known/jwks.json`;
  published: JWK[] = [];
  fetches = 0;
  answer: () => Response = () => Response.json({ keys: this.published });

  settings(overrides: Partial<Env> = {}): Env {
    return envWith({ AUTH_SECRET: undefined, AUTH_JWKS_URL: this.url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, ...overrides });
  }
}

let idps: FakeIdp[] = [];

function idp(...keys: SigningKey[]): FakeIdp {
  const made = new FakeIdp();
  made.published = keys.map((k) => k.publicJwk);
  idps.push(made);
  return made;
}

function sign(key: SigningKey, claims: JWTPayload, header: { alg?: string; kid?: string } = {}): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key.privateKey);
}

let rsa: SigningKey;
let ec: SigningKey;
let attacker: SigningKey;

beforeAll(async () => {
  [rsa, ec, attacker] = await Promise.all([signingKey("RS256"), signingKey("ES256"), signingKey("RS256")]);
});

beforeEach(() => {
  idps = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new Request(input, init).url;
    const target = idps.find((i) => i.url === url);
    if (!target) throw new Error(`unexpected outbound fetch to ${url}`);
    target.fetches++;
    return target.answer();
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("IdP tokens", () => {
  it("accepts RS256 and ES256 tokens signed with the published keys", async () => {
    const provider = idp(rsa, ec);
    for (const key of [rsa, ec]) {
      const user = uniqueUser(key.alg);
      expect(await expectAccepted(await connectWith(provider.settings(), await sign(key, { userId: user })))).toBe(user);
    }
  });

  it("fetches the key set once per isolate, not once per connection", async () => {
    const provider = idp(rsa, ec);
    for (let i = 0; i < 5; i++) {
      // A fresh env object each time: the cache must not hang off the parsed config.
      await expectAccepted(await connectWith(provider.settings(), await sign(i % 2 ? ec : rsa, { userId: uniqueUser("cached") })));
    }
    expect(provider.fetches).toBe(1);
  });

  it("accepts the IdP's numeric subject ids as decimal strings", async () => {
    const provider = idp(rsa);
    const id = Math.floor(Math.random() * 1e12);
    expect(
      await expectAccepted(
        await connectWith(provider.settings({ IDENTITY_CLAIM: "sub" }), await sign(rsa, { sub: id as unknown as string })),
      ),
    ).toBe(String(id));
  });

  it("accepts shared-secret and IdP tokens side by side, e.g. while migrating to an IdP", async () => {
    const provider = idp(rsa);
    const both = provider.settings({ AUTH_SECRET: SECRET, AUTH_ISSUER: undefined, AUTH_AUDIENCE: undefined });
    const hsUser = uniqueUser("hs");
    const idpUser = uniqueUser("idp");
    expect(await expectAccepted(await connectWith(both, await tokenFor(hsUser)))).toBe(hsUser);
    expect(await expectAccepted(await connectWith(both, await sign(rsa, { userId: idpUser })))).toBe(idpUser);
  });
});

describe("forged and confused tokens", () => {
  it("refuses a token that names a published kid but was signed by another key", async () => {
    const provider = idp(rsa);
    await expectRefused(
      await connectWith(provider.settings(), await sign(attacker, { userId: "victim" }, { kid: rsa.kid })),
      401,
      "invalid_token",
    );
  });

  it("refuses alg none", async () => {
    const provider = idp(rsa);
    const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const none = `${b64({ alg: "none", typ: "JWT", kid: rsa.kid })}.${b64({ userId: "victim", iss: ISSUER, aud: AUDIENCE })}.`;
    await expectRefused(await connectWith(provider.settings(), none), 401, "invalid_token");
  });

  it("refuses HS256 tokens signed with the IdP's public key as the HMAC secret (HS/RS confusion)", async () => {
    const provider = idp(rsa);
    for (const secret of [await exportSPKI(rsa.publicKey), JSON.stringify(rsa.publicJwk), rsa.publicJwk.n!]) {
      const forged = await new SignJWT({ userId: "victim", iss: ISSUER, aud: AUDIENCE })
        .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
        .setExpirationTime("10m")
        .sign(new TextEncoder().encode(secret));
      // Whether or not HS256 is enabled at all, the RSA key never serves as an HMAC secret.
      for (const settings of [provider.settings(), provider.settings({ AUTH_SECRET: SECRET })]) {
        await expectRefused(await connectWith(settings, forged), 401, "invalid_token");
      }
    }
  });

  it("refuses HS256 tokens when only a JWKS URL is configured, even with the pool's secret", async () => {
    const provider = idp(rsa);
    const reason = await expectRefused(
      await connectWith(provider.settings(), await tokenFor("u", { claims: { iss: ISSUER, aud: AUDIENCE } })),
      401,
      "invalid_token",
    );
    expect(reason).toContain("HS256");
  });

  it("refuses algorithms other than RS256 and ES256, even for a published key", async () => {
    const [ps256, es384] = await Promise.all([signingKey("PS256"), signingKey("ES384")]);
    const provider = idp(ps256, es384, rsa);
    for (const key of [ps256, es384]) {
      await expectRefused(await connectWith(provider.settings(), await sign(key, { userId: "u" })), 401, "invalid_token");
    }
  });

  it("refuses an ES256 token that names an RSA key's kid (alg is pinned per key type)", async () => {
    const provider = idp(rsa);
    await expectRefused(
      await connectWith(provider.settings(), await sign(ec, { userId: "victim" }, { kid: rsa.kid })),
      401,
      "invalid_token",
    );
  });
});

describe("issuer and audience", () => {
  it("refuses a wrong or missing issuer or audience", async () => {
    const provider = idp(rsa);
    for (const claims of [{ iss: "https://other-idp.example/" }, { iss: undefined }, { aud: "another-app" }, { aud: undefined }]) {
      await expectRefused(await connectWith(provider.settings(), await sign(rsa, { userId: "u", ...claims })), 401, "invalid_token");
    }
  });

  it("refuses an expired IdP token with expired_token", async () => {
    const provider = idp(rsa);
    const expired = await new SignJWT({ userId: "u", iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: "RS256", kid: rsa.kid })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(rsa.privateKey);
    await expectRefused(await connectWith(provider.settings(), expired), 401, "expired_token");
  });
});

describe("key rotation and refetching", () => {
  // jose's cooldown reads Date.now(), so the clock is moved rather than waited on.
  const T0 = Date.now();

  it("picks up a key the IdP rotated in once the 30 s cooldown has passed, and drops the withdrawn one", async () => {
    vi.setSystemTime(T0);
    const next = await signingKey("RS256");
    const provider = idp(rsa);
    await expectAccepted(await connectWith(provider.settings(), await sign(rsa, { userId: uniqueUser("before") })));
    provider.published = [next.publicJwk];

    // Inside the cooldown the new kid is not worth a fetch yet.
    vi.setSystemTime(T0 + 10_000);
    await expectRefused(await connectWith(provider.settings(), await sign(next, { userId: "u" })), 401, "invalid_token");
    expect(provider.fetches).toBe(1);

    vi.setSystemTime(T0 + 31_000);
    const user = uniqueUser("after");
    expect(await expectAccepted(await connectWith(provider.settings(), await sign(next, { userId: user })))).toBe(user);
    expect(provider.fetches).toBe(2);
    await expectRefused(await connectWith(provider.settings(), await sign(rsa, { userId: "u" })), 401, "invalid_token");
  });

  it("refetches when the cache is 10 minutes old, without waiting for an unknown kid", async () => {
    vi.setSystemTime(T0);
    const provider = idp(rsa);
    await expectAccepted(await connectWith(provider.settings(), await sign(rsa, { userId: uniqueUser("fresh") })));
    vi.setSystemTime(T0 + 599_000);
    await expectAccepted(await connectWith(provider.settings(), await sign(rsa, { userId: uniqueUser("fresh") })));
    expect(provider.fetches).toBe(1);
    vi.setSystemTime(T0 + 601_000);
    await expectAccepted(await connectWith(provider.settings(), await sign(rsa, { userId: uniqueUser("stale") })));
    expect(provider.fetches).toBe(2);
  });

  it("does not refetch for every made-up kid in a flood: one fetch per cooldown", async () => {
    vi.setSystemTime(T0);
    const provider = idp(rsa);
    await expectAccepted(await connectWith(provider.settings(), await sign(rsa, { userId: uniqueUser("flood") })));
    const flood = async () => {
      const tokens = await Promise.all(Array.from({ length: 50 }, () => sign(attacker, { userId: "u" }, { kid: crypto.randomUUID() })));
      for (const res of await Promise.all(tokens.map((t) => connectWith(provider.settings(), t))))
        await expectRefused(res, 401, "invalid_token");
    };
    await flood();
    expect(provider.fetches).toBe(1);

    vi.setSystemTime(T0 + 31_000);
    await expectRefused(
      await connectWith(provider.settings(), await sign(attacker, { userId: "u" }, { kid: crypto.randomUUID() })),
      401,
      "invalid_token",
    );
    await flood();
    expect(provider.fetches).toBe(2);
  });
});

describe("an IdP that cannot be reached", () => {
  it("answers 503 auth_unavailable, not 401, and recovers when the IdP is back", async () => {
    const provider = idp(rsa);
    const token = await sign(rsa, { userId: uniqueUser("outage") });
    const failures: Array<() => Response> = [
      () => new Response("upstream error", { status: 500 }),
      () => new Response("<html>maintenance</html>", { status: 200 }),
      () => Response.json({ keys: "not a list" }),
      () => {
        throw new TypeError("Network connection lost.");
      },
    ];
    for (const failure of failures) {
      provider.answer = failure;
      await expectRefused(await connectWith(provider.settings(), token), 503, "auth_unavailable");
    }
    provider.answer = () => Response.json({ keys: provider.published });
    await expectAccepted(await connectWith(provider.settings(), token));
    expect(provider.fetches).toBe(failures.length + 1);
  });
});
