/**
 * The server API (PROTOCOL.md, Server API) on real objects: the key (503
 * unset, 401 missing or wrong, rotation, constant-time comparison, no
 * browsers; user tokens never work there and the key never works on /ws);
 * messages as a user (every guarantee of a socket send) and notices (to a
 * user or a group; logged, queued, idempotent); groups as the system; a
 * user's conversations; disconnect and suspension; erasure; the OpenAPI
 * document. Webhooks: webhooks.test.ts. Close timing: test/node/closes.test.ts.
 */
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { api, apiJson, Client, createGroup, expectRefused, type Frame, TIME, tokenFor, uniqueUser, upgrade } from "./helpers.ts";

const KEY = "test-api-key";

afterEach(() => {
  vi.restoreAllMocks();
});

function admin(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const init: RequestInit = { method, headers: { Authorization: `Bearer ${KEY}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  return exports.default.fetch(`http://edge.test${path}`, init);
}

async function adminJson(method: string, path: string, body?: unknown, status = 200): Promise<Frame> {
  const res = await admin(method, path, body);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status} ${text}`);
  return JSON.parse(text) as Frame;
}

/** The Worker with other settings (an unset or rotated key). */
function withEnv(overrides: Partial<Env>, path: string, headers: Record<string, string>): Promise<Response> {
  return worker.fetch(new Request(`http://edge.test${path}`, { headers }), { ...env, ...overrides }, createExecutionContext());
}

describe("the API key", () => {
  const path = "/v1/admin/users/someone/conversations";

  it("is required: 401 invalid_api_key without it, with a wrong one, or with a user's token", async () => {
    await expectRefused(await exports.default.fetch(`http://edge.test${path}`), 401, "invalid_api_key");
    await expectRefused(await admin("GET", path, undefined, { Authorization: "Bearer wrong" }), 401, "invalid_api_key");
    await expectRefused(
      await admin("GET", path, undefined, { Authorization: `Bearer ${await tokenFor("someone")}` }),
      401,
      "invalid_api_key",
    );
    expect((await admin("GET", path)).status).toBe(200);
  });

  it("is off when API_KEY is unset: 503 api_disabled on every admin route", async () => {
    for (const p of [path, "/v1/admin/messages", "/v1/admin/users/x/disconnect"]) {
      await expectRefused(await withEnv({ API_KEY: undefined }, p, { Authorization: `Bearer ${KEY}` }), 503, "api_disabled");
    }
  });

  it("rotates: API_KEY_PREVIOUS works beside API_KEY until it is removed", async () => {
    const rotated = { API_KEY: "new-key", API_KEY_PREVIOUS: KEY };
    expect((await withEnv(rotated, path, { Authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await withEnv(rotated, path, { Authorization: "Bearer new-key" })).status).toBe(200);
    await expectRefused(await withEnv({ API_KEY: "new-key" }, path, { Authorization: `Bearer ${KEY}` }), 401, "invalid_api_key");
  });

  it("is compared in constant time, against every key, over digests of equal length", async () => {
    const spy = vi.spyOn(crypto.subtle, "timingSafeEqual");
    await withEnv({ API_KEY: "new-key", API_KEY_PREVIOUS: KEY }, path, { Authorization: "Bearer a-much-longer-wrong-key-than-either" });
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [a, b] of spy.mock.calls) expect([(a as ArrayBuffer).byteLength, (b as ArrayBuffer).byteLength]).toEqual([32, 32]);
  });

  it("refuses browsers (a request with Origin) with 403: the key belongs on the app's backend", async () => {
    await expectRefused(await admin("GET", path, undefined, { Origin: "https://app.example" }), 403, "browser_forbidden");
  });

  it("never works as a user token on /ws", async () => {
    await expectRefused(await upgrade(`?Authentication=${KEY}`), 401, "invalid_token");
    await expectRefused(await upgrade("", { Authorization: `Bearer ${KEY}` }), 401, "invalid_token");
  });
});

describe("POST /v1/admin/messages", () => {
  it("sends as a user with every guarantee of a socket send: ack-like answer, copies to the sender's sockets, idempotent by id", async () => {
    const [john, rick] = [uniqueUser("john"), await Client.connect(uniqueUser("rick"))];
    const sockets = [await Client.connect(john), await Client.connect(john)];
    const raw = `{"id":"order-17","from":"${john}","to":"${rick.user}","message":{"text":"Your order shipped","n":12345678901234567890}}`;
    const sent = await adminJson("POST", "/v1/admin/messages", raw, 201);
    expect(sent).toEqual({ id: expect.any(String), time: expect.stringMatching(TIME) });
    const got = await rick.expect({ id: sent.id });
    expect(got).toMatchObject({ from: john, to: rick.user, type: "USER_MSG", content: "TEXT_MESSAGE", seq: 1 });
    expect(rick.texts.at(-1)).toContain('"n":12345678901234567890');
    for (const s of sockets) expect(await s.expect({ id: sent.id })).toMatchObject({ from: john });
    // The same id again is the same message, delivered once.
    expect(await adminJson("POST", "/v1/admin/messages", raw, 201)).toEqual(sent);
    await rick.expectNothingMore();
    // The same client id from the user's own socket is that message too.
    expect((await sockets[0]!.message(rick.user, "again", "order-17")).message).toBe(sent.id);
  });

  it("sends to a group the user is in, and refuses one they are not in with 403", async () => {
    const [a, b] = [await Client.connect(uniqueUser("a")), await Client.connect(uniqueUser("b"))];
    const id = await createGroup(a.user, [b.user]);
    await b.expect({ content: "GROUP_EVENT" });
    const sent = await adminJson("POST", "/v1/admin/messages", { id: "g-1", from: a.user, to: id, message: "from the backend" }, 201);
    expect(await b.expect({ id: sent.id })).toMatchObject({ from: a.user, to: id, message: "from the backend" });
    await expectRefused(
      await admin("POST", "/v1/admin/messages", { id: "g-2", from: uniqueUser("outsider"), to: id, message: "x" }),
      403,
      "forbidden",
    );
  });

  it("without `from`, sends a NOTICE from the system: logged, queued for an offline user, idempotent, in the `system` conversation", async () => {
    const rick = uniqueUser("rick");
    const sent = await adminJson("POST", "/v1/admin/messages", { id: "n-1", to: rick, message: { text: "Welcome!" } }, 201);
    expect(await adminJson("POST", "/v1/admin/messages", { id: "n-1", to: rick, message: { text: "Welcome!" } }, 201)).toEqual(sent);
    const c = await Client.connect(rick);
    expect(await c.next()).toEqual({
      id: sent.id,
      from: "system",
      to: rick,
      type: "SYSTEM_MSG",
      time: sent.time,
      content: "NOTICE",
      message: { text: "Welcome!" },
      seq: 1,
    });
    await c.expectNothingMore();
    const list = await apiJson(rick, "GET", "/v1/conversations");
    expect(list.conversations).toEqual([expect.objectContaining({ id: "system", kind: "system", lastSeq: 1, unread: 0 })]);
    expect((await apiJson(rick, "GET", "/v1/conversations/system/messages")).messages).toEqual([
      expect.objectContaining({ id: sent.id, content: "NOTICE" }),
    ]);
    // A user cannot message the system back.
    c.send({ id: "back", to: "system", type: "USER_MSG", content: "TEXT_MESSAGE", message: "thanks" });
    expect(await c.error("back")).toMatchObject({ message: { code: "FORBIDDEN" } });
  });

  it("sends a notice to every member of a group (to = the group), and answers 404 for an unknown group", async () => {
    const [a, b] = [await Client.connect(uniqueUser("a")), await Client.connect(uniqueUser("b"))];
    const id = await createGroup(a.user, [b.user]);
    const sent = await adminJson("POST", "/v1/admin/messages", { id: "gn-1", to: id, message: "maintenance at noon" }, 201);
    for (const c of [a, b])
      expect(await c.expect({ id: sent.id })).toMatchObject({ from: "system", to: id, content: "NOTICE", message: "maintenance at noon" });
    expect(await adminJson("POST", "/v1/admin/messages", { id: "gn-1", to: id, message: "maintenance at noon" }, 201)).toEqual(sent);
    // Only the group's creation and the notice, once.
    expect(b.takeUnread()).toEqual([expect.objectContaining({ content: "GROUP_EVENT" })]);
    await b.expectNothingMore();
    await expectRefused(
      await admin("POST", "/v1/admin/messages", { id: "x", to: `group:${crypto.randomUUID()}`, message: 1 }),
      404,
      "not_found",
    );
  });

  it("answers malformed bodies with 400 naming the field", async () => {
    const cases: [unknown, string][] = [
      [{ to: "rick", message: 1 }, "bad_id"],
      [{ id: "x", message: 1 }, "bad_to"],
      [{ id: "x", to: "rick" }, "bad_message"],
      [{ id: "x", to: "system", message: 1 }, "bad_to"],
      [{ id: "x", to: "rick", message: 1, content: "VIDEO" }, "bad_content"],
      [{ id: "x", from: "group:x", to: "rick", message: 1 }, "bad_from"],
      ["{not json", "bad_json"],
    ];
    for (const [body, error] of cases) await expectRefused(await admin("POST", "/v1/admin/messages", body), 400, error);
  });
});

describe("groups as the system", () => {
  it("creates with members and admins, adds and removes anyone's members; events come from `system`", async () => {
    const [boss, worker1, worker2] = [await Client.connect(uniqueUser("boss")), uniqueUser("w1"), uniqueUser("w2")];
    const group = await adminJson("POST", "/v1/admin/groups", { name: "Team", members: [worker1], admins: [boss.user] }, 201);
    expect(group.members.map((m: Frame) => [m.user, m.role])).toEqual([
      [boss.user, "admin"],
      [worker1, "member"],
    ]);
    expect(await boss.next()).toMatchObject({ from: "system", message: { event: "created", name: "Team" } });
    await adminJson("POST", `/v1/admin/groups/${group.id}/members`, { user: worker2 });
    await adminJson("DELETE", `/v1/admin/groups/${group.id}/members/${worker1}`);
    expect((await boss.expectAll({ content: "GROUP_EVENT" }, 2)).map((f) => [f.from, f.message.event])).toEqual([
      ["system", "member_added"],
      ["system", "member_removed"],
    ]);
    await expectRefused(await admin("POST", `/v1/admin/groups/group:${crypto.randomUUID()}/members`, { user: "x" }), 404, "not_found");
    const again = await admin("POST", "/v1/admin/groups", { name: "Team" }, { "Idempotency-Key": "team-1" });
    const retried = await admin("POST", "/v1/admin/groups", { name: "Team" }, { "Idempotency-Key": "team-1" });
    expect(((await again.json()) as Frame).id).toBe(((await retried.json()) as Frame).id);
  });
});

describe("a user's conversations", () => {
  it("answers the same shapes as the user's own routes", async () => {
    const [me, peer] = [await Client.connect(uniqueUser("me")), await Client.connect(uniqueUser("peer"))];
    await peer.message(me.user, "hello");
    await me.expect({ type: "USER_MSG" });
    expect(await adminJson("GET", `/v1/admin/users/${me.user}/conversations`)).toEqual(await apiJson(me.user, "GET", "/v1/conversations"));
    expect(await adminJson("GET", `/v1/admin/users/${me.user}/conversations/${peer.user}/messages?limit=1`)).toEqual(
      await apiJson(me.user, "GET", `/v1/conversations/${peer.user}/messages?limit=1`),
    );
    await expectRefused(await admin("GET", `/v1/admin/users/${me.user}/conversations?limit=0`), 400, "bad_limit");
  });
});

describe("disconnect and suspension", () => {
  it("closes every socket with 4003; with `until`, refuses new connections with 403 suspended until then", async () => {
    const user = uniqueUser("abusive");
    const sockets = [await Client.connect(user), await Client.connect(user)];
    const until = new Date(Date.now() + 3_600_000).toISOString();
    expect(await adminJson("POST", `/v1/admin/users/${user}/disconnect`, { until, reason: "spam" })).toEqual({ closed: 2, until });
    for (const s of sockets) expect(await s.closing(1500)).toEqual({ code: 4003, reason: "spam" });
    const reason = await expectRefused(await upgrade(`?Authentication=${await tokenFor(user)}`), 403, "suspended");
    expect(reason).toContain(until.slice(0, 19));
    // A time in the past lifts it.
    await adminJson("POST", `/v1/admin/users/${user}/disconnect`, { until: new Date(Date.now() - 1000).toISOString() });
    expect((await upgrade(`?Authentication=${await tokenFor(user)}`)).status).toBe(101);
  });

  it("without a body, only disconnects, with a default reason", async () => {
    const user = uniqueUser("kicked");
    const c = await Client.connect(user);
    const res = await exports.default.fetch(`http://edge.test/v1/admin/users/${user}/disconnect`, {
      method: "POST",
      headers: { Authorization: `Bearer ${KEY}` },
    });
    expect(await res.json()).toEqual({ closed: 1, until: null });
    expect(await c.closing(1500)).toMatchObject({ code: 4003 });
    expect((await upgrade(`?Authentication=${await tokenFor(user)}`)).status).toBe(101);
    await expectRefused(await admin("POST", `/v1/admin/users/${user}/disconnect`, { until: "tomorrow" }), 400, "bad_until");
  });
});

describe("DELETE /v1/admin/users/<user>", () => {
  it("erases the user's object, leaves their groups (member_left for the others), closes their sockets; others keep their copies", async () => {
    const [gone, friend, third] = [
      await Client.connect(uniqueUser("gone")),
      await Client.connect(uniqueUser("friend")),
      await Client.connect(uniqueUser("third")),
    ];
    const id = await createGroup(friend.user, [gone.user, third.user]);
    await gone.expect({ content: "GROUP_EVENT" });
    const dm = await gone.message(friend.user, "remember me");
    await friend.expect({ id: dm.message });
    expect((await admin("DELETE", `/v1/admin/users/${gone.user}`)).status).toBe(204);
    expect(await gone.closing(1500)).toMatchObject({ code: 4003 });
    expect(await third.expect({ content: "GROUP_EVENT", message: { event: "member_left" } })).toMatchObject({
      from: gone.user,
      message: { user: gone.user },
    });
    expect((await apiJson(friend.user, "GET", `/v1/groups/${id}`)).members.map((m: Frame) => m.user)).toEqual([friend.user, third.user]);
    const tables = await runInDurableObject(env.USERS.getByName(gone.user), (_o, state) =>
      state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'",
        )
        .toArray(),
    );
    expect(tables).toEqual([]);
    expect(await apiJson(gone.user, "GET", "/v1/conversations")).toEqual({ conversations: [], unread: 0, next: null });
    expect((await apiJson(friend.user, "GET", `/v1/conversations/${gone.user}/messages`)).messages.map((m: Frame) => m.id)).toEqual([
      dm.message,
    ]);
    // As one who never connected: a new connection starts from nothing.
    const back = await Client.open(gone.user);
    expect(back.hello.message.seq).toBe(0);
  });
});

describe("GET /v1/openapi.json", () => {
  it("documents every /v1 route, user and admin, from the schemas that validate them", async () => {
    const res = await exports.default.fetch("http://edge.test/v1/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Frame;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/v1/admin/groups",
        "/v1/admin/groups/{id}/members",
        "/v1/admin/groups/{id}/members/{user}",
        "/v1/admin/messages",
        "/v1/admin/reports",
        "/v1/admin/reports/{id}/resolve",
        "/v1/admin/users/{user}",
        "/v1/admin/users/{user}/conversations",
        "/v1/admin/users/{user}/conversations/{id}/messages",
        "/v1/admin/users/{user}/disconnect",
        "/v1/blocks",
        "/v1/blocks/{user}",
        "/v1/conversations",
        "/v1/conversations/{id}",
        "/v1/conversations/{id}/messages",
        "/v1/conversations/{id}/messages/{message}",
        "/v1/files",
        "/v1/files/{id}",
        "/v1/groups",
        "/v1/groups/{id}",
        "/v1/groups/{id}/members",
        "/v1/groups/{id}/members/{user}",
        "/v1/reports",
      ].sort(),
    );
    // The limit the validator enforces is the one documented.
    const limit = doc.paths["/v1/conversations"].get.parameters.find((p: Frame) => p.name === "limit");
    expect(limit.schema).toMatchObject({ minimum: 1, maximum: 200, default: 50 });
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "userToken"]);
    const res2 = await api(uniqueUser("u"), "GET", "/v1/conversations?limit=201");
    expect(res2.status).toBe(400);
  });
});
