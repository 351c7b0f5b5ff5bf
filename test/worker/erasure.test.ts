/**
 * Deleted for everyone means erased (DESIGN.md invariant 6; PROTOCOL.md,
 * Replies, edits, deletes and reactions): after a delete, every table of
 * every object that held a copy of the message or of its edits (the
 * sender's and the recipients' logs and state rows, the sender's outbox
 * while the recipient is down, each group member's log, the group's own
 * log while a member is still owed it) is read row by row with
 * runInDurableObject, and the text is nowhere. `since` replays, history,
 * the server API's history read and a webhook retry return
 * `"message":null`. Members removed from the group (or who left) after the
 * message reached them get the delete too, even while their object is
 * down. A message the user deleted for themself leaves its latest payload
 * nowhere, and later edits, reactions and a delete of it are neither handed
 * to their sockets nor stored.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { UserObject } from "../../src/user/object.ts";
import type { QueuedEvent } from "../../src/webhooks/events.ts";
import { api, apiJson, Client, createGroup, type Frame, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every row of every table of an object's database, as text (the runtime's own _cf_ tables are not readable). */
function everything(stub: DurableObjectStub): Promise<string> {
  return runInDurableObject(stub, (_o, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'")
      .toArray()
      .map((t) => t.name);
    expect(tables.length).toBeGreaterThan(1);
    return tables.map((t) => `${t}: ${JSON.stringify(sql.exec(`SELECT * FROM "${t}"`).toArray())}`).join("\n");
  });
}

const user = (name: string) => env.USERS.getByName(name);

/** Runs an object's alarm with its backoff over, as if the wait had passed (see durability.test.ts). */
async function retryNow(stub: DurableObjectStub, table: "retries" | "cursors"): Promise<void> {
  await runInDurableObject(stub, (_o, state) => state.storage.sql.exec(`UPDATE ${table} SET due = 0`));
  await runDurableObjectAlarm(stub);
}

/** Makes `name`'s current object throw from deliver(), as a recipient that is down (see durability.test.ts). */
async function down(name: string): Promise<() => void> {
  const target = await runInDurableObject(user(name), (object: UserObject) => object);
  const deliver = UserObject.prototype.deliver;
  const spy = vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
    if (this === target) return Promise.reject(new Error("recipient down"));
    return deliver.call(this, envelopes);
  });
  return () => spy.mockRestore();
}

function change(c: Client, to: string, content: string, ref: string, message?: unknown) {
  const id = crypto.randomUUID();
  c.send({ id, to, type: "USER_MSG", content, ref, ...(message === undefined ? {} : { message }) });
  return c.ack(id);
}

async function adminHistory(of: string, conversation: string): Promise<string> {
  const res = await exports.default.fetch(
    `http://edge.test/v1/admin/users/${of}/conversations/${encodeURIComponent(conversation)}/messages`,
    { headers: { Authorization: "Bearer test-api-key" } },
  );
  expect(res.status).toBe(200);
  return res.text();
}

describe("delete for everyone erases", () => {
  it("a direct message and its edits from both users' every table, the sender's outbox included", async () => {
    const [john, rick] = await users("john", "rick");
    // Delivered, and edited, while rick is online.
    const seen = await john.message(rick.user, "SECRET-1");
    await change(john, rick.user, "MESSAGE_EDIT", seen.message, "SECRET-2");
    await rick.expectAll({ from: john.user }, 2);
    await change(rick, john.user, "REACTION", seen.message, { key: "👍", on: true });
    // Then rick's object is down: the next message and its edit wait in john's outbox.
    const restore = await down(rick.user);
    const held = await john.message(rick.user, "SECRET-3");
    await change(john, rick.user, "MESSAGE_EDIT", held.message, "SECRET-4");
    expect(await everything(user(john.user))).toMatch(/outbox: .*SECRET-3.*SECRET-4/);
    await change(john, rick.user, "MESSAGE_DELETE", seen.message);
    await change(john, rick.user, "MESSAGE_DELETE", held.message);
    expect(await everything(user(john.user))).not.toMatch(/SECRET/);
    restore();
    await retryNow(user(john.user), "retries");
    // rick gets the held message as a tombstone, then its (erased) edit, then the deletes.
    const got = await rick.expectAll((f: Frame) => f.from === john.user, 4);
    expect(got.map((f) => [f.content, f.message])).toEqual([
      ["TEXT_MESSAGE", null],
      ["MESSAGE_EDIT", null],
      ["MESSAGE_DELETE", undefined],
      ["MESSAGE_DELETE", undefined],
    ]);
    for (const name of [john.user, rick.user]) {
      expect(await everything(user(name))).not.toMatch(/SECRET/);
      const replay = await (await Client.connect(name, { since: 0 })).take(7);
      expect(JSON.stringify(replay)).not.toMatch(/SECRET/);
      expect(replay.filter((f) => f.content === "TEXT_MESSAGE").map((f) => f.message)).toEqual([null, null]);
    }
    const history = await apiJson(rick.user, "GET", `/v1/conversations/${john.user}/messages`);
    expect(history.messages.map((m: Frame) => [m.message, typeof m.deleted, m.reactions])).toEqual([
      [null, "string", undefined],
      [null, "string", undefined],
    ]);
    expect(await adminHistory(rick.user, john.user)).not.toMatch(/SECRET/);
  });

  it("a group message and its edits from the group's log (a member still owed it) and every member's every table", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const id = await createGroup(john.user, [rick.user, morty.user]);
    for (const c of [john, rick, morty]) await c.expect({ content: "GROUP_EVENT" });
    const group = env.GROUPS.getByName(id);
    const restore = await down(morty.user);
    const orig = await john.message(id, "SECRET-G1");
    await rick.expect({ id: orig.message });
    // The sender's own copy is back once its other device has it.
    const phone = await Client.connect(john.user);
    const edited = await change(john, id, "MESSAGE_EDIT", orig.message, "SECRET-G2");
    await rick.expect({ id: edited.message });
    await phone.expect({ id: edited.message });
    expect(await everything(group)).toMatch(/SECRET-G2/);
    const del = await change(john, id, "MESSAGE_DELETE", orig.message);
    await rick.expect({ id: del.message });
    await phone.expect({ id: del.message });
    // morty is still owed all three: the group's log holds them erased.
    for (const stub of [group, user(john.user), user(rick.user)]) expect(await everything(stub)).not.toMatch(/SECRET/);
    restore();
    await retryNow(group, "cursors");
    const got = await morty.expectAll((f: Frame) => f.from === john.user, 3);
    expect(got.map((f) => [f.content, f.message])).toEqual([
      ["TEXT_MESSAGE", null],
      ["MESSAGE_EDIT", null],
      ["MESSAGE_DELETE", undefined],
    ]);
    expect(await everything(user(morty.user))).not.toMatch(/SECRET/);
    for (const name of [john.user, rick.user, morty.user]) {
      const page = await apiJson(name, "GET", `/v1/conversations/${encodeURIComponent(id)}/messages`);
      const message = page.messages.find((m: Frame) => m.id === orig.message);
      expect(message).toMatchObject({ message: null, deleted: expect.any(String) });
      expect(await adminHistory(name, id)).not.toMatch(/SECRET/);
    }
  });

  it("a payload in a webhook event still queued: the retry carries null", async () => {
    const hooks = { WEBHOOK_URL: "https://backend.example/hooks", WEBHOOK_SECRET: "whsec-test", WEBHOOK_INCLUDE_MESSAGE: "on" };
    const john = await Client.connect(uniqueUser("john"));
    const rick = uniqueUser("rick");
    // rick's object is down when the message is sent; it then arrives at an object configured with webhooks.
    await runInDurableObject(user(rick), () => undefined);
    const restore = await down(rick);
    const orig = await john.message(rick, "SECRET-W");
    const frame = await runInDurableObject(
      user(john.user),
      (_j, s) => s.storage.sql.exec<{ frame: string }>("SELECT frame FROM log WHERE id = ?", orig.message).one().frame,
    );
    const queued: QueuedEvent[] = [];
    const send = env.WEBHOOKS.sendBatch.bind(env.WEBHOOKS);
    vi.spyOn(env.WEBHOOKS, "sendBatch").mockImplementation(async (batch) => {
      for (const m of batch) queued.push(m.body as QueuedEvent);
      return send(batch);
    });
    await runInDurableObject(user(rick), async (_o, state) => {
      await new UserObject(state, { ...env, ...hooks }).deliver([
        { id: orig.message, sender: john.user, recipient: rick, type: "USER_MSG", frame },
      ]);
    });
    restore();
    expect(queued[0]!.body).toContain("SECRET-W");
    await change(john, rick, "MESSAGE_DELETE", orig.message);
    await retryNow(user(john.user), "retries");
    expect(await everything(user(rick))).not.toMatch(/SECRET/);
    const posted: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (_url, init) => {
      posted.push(String(init?.body));
      return new Response("ok");
    });
    const batch = createMessageBatch<QueuedEvent>("lunarloom-webhooks", [
      { id: "q-1", timestamp: new Date(), attempts: 2, body: queued[0]! },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ...hooks });
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["q-1"]);
    expect(posted).toHaveLength(1);
    expect(posted[0]).not.toContain("SECRET");
    expect(JSON.parse(posted[0]!)).toMatchObject({ messageId: orig.message, message: null });
  });

  it("a group message from every table of members who were removed or left after it reached them", async () => {
    const [john, rick, morty, beth, summer] = await users("john", "rick", "morty", "beth", "summer");
    const id = await createGroup(john.user, [rick.user, morty.user, beth.user, summer.user]);
    for (const c of [john, rick, morty, beth, summer]) await c.expect({ content: "GROUP_EVENT" });
    const members = `/v1/groups/${encodeURIComponent(id)}/members`;
    // summer leaves before the message: she never held it, so she gets nothing of it.
    await apiJson(summer.user, "DELETE", `${members}/${summer.user}`);
    await summer.expect({ content: "GROUP_EVENT", message: { event: "member_left" } });
    const orig = await john.message(id, "SECRET-F1");
    // john's own copy comes back in the group's order; his edit names it.
    await vi.waitFor(async () => expect(await everything(user(john.user))).toContain(`"id":"${orig.message}"`));
    const edited = await change(john, id, "MESSAGE_EDIT", orig.message, "SECRET-F2");
    await change(morty, id, "REACTION", orig.message, { key: "👍", on: true });
    for (const c of [rick, beth]) await c.expect({ content: "REACTION" });
    // morty is removed, beth leaves: both hold the message and its edit.
    await apiJson(john.user, "DELETE", `${members}/${morty.user}`);
    await apiJson(beth.user, "DELETE", `${members}/${beth.user}`);
    for (const c of [morty, beth]) await c.expect({ content: "GROUP_EVENT", message: { user: c.user } });
    expect(await everything(user(morty.user))).toMatch(/SECRET-F2/);
    // morty's object is down when the delete is sent: the group retries, as for a member.
    const restore = await down(morty.user);
    const del = await change(john, id, "MESSAGE_DELETE", orig.message);
    await beth.expect({ id: del.message, content: "MESSAGE_DELETE", ref: orig.message });
    expect(await everything(user(beth.user))).not.toMatch(/SECRET/);
    restore();
    await retryNow(env.GROUPS.getByName(id), "cursors");
    await morty.expect({ id: del.message, content: "MESSAGE_DELETE", ref: orig.message });
    for (const name of [john.user, rick.user, morty.user, beth.user]) expect(await everything(user(name))).not.toMatch(/SECRET/);
    expect(await everything(env.GROUPS.getByName(id))).not.toMatch(/SECRET/);
    for (const name of [morty.user, beth.user]) {
      const page = await apiJson(name, "GET", `/v1/conversations/${encodeURIComponent(id)}/messages`);
      expect(page.messages.find((m: Frame) => m.id === orig.message)).toMatchObject({ message: null, deleted: expect.any(String) });
      expect(await adminHistory(name, id)).not.toMatch(/SECRET/);
      const replay = await (await Client.connect(name, { since: 0 })).expectAll(
        (f: Frame) => f.from === john.user && f.type === "USER_MSG",
        3,
      );
      expect(replay.map((f) => [f.id, f.message])).toEqual([
        [orig.message, null],
        [edited.message, null],
        [del.message, undefined],
      ]);
    }
    // summer was never sent the message, so not its delete either; she is owed nothing.
    await summer.expectNothingMore();
    expect(await everything(user(summer.user))).not.toContain(orig.message);
  });
});

describe("delete for me", () => {
  it("leaves the latest payload nowhere, and later edits, reactions and a delete of it reach neither sockets nor tables", async () => {
    const [john, rick] = await users("john", "rick");
    const orig = await john.message(rick.user, "SECRET-H1");
    await change(john, rick.user, "MESSAGE_EDIT", orig.message, "SECRET-H2");
    await change(john, rick.user, "REACTION", orig.message, { key: "🎉", on: true });
    await rick.expectAll({ from: john.user }, 3);
    expect((await api(rick.user, "DELETE", `/v1/conversations/${john.user}/messages/${orig.message}`)).status).toBe(204);
    await rick.expect({ content: "SETTINGS_CHANGED" });
    expect(await everything(user(rick.user))).not.toMatch(/SECRET|🎉/);
    // Later changes by john: acked to him as usual (he is not told), and nothing of them reaches rick.
    await change(john, rick.user, "MESSAGE_EDIT", orig.message, "SECRET-H3");
    await change(john, rick.user, "REACTION", orig.message, { key: "👀", on: true });
    const marker = await john.message(rick.user, "after");
    expect((await rick.expect({ from: john.user })).id).toBe(marker.message);
    await rick.expectNothingMore();
    expect(await everything(user(rick.user))).not.toMatch(/SECRET|👀/);
    await change(john, rick.user, "MESSAGE_DELETE", orig.message);
    await rick.expectNothingMore();
    // The edit and reaction from before the hide are HIDDEN rows; nothing that came after it was logged.
    const changes = await runInDurableObject(user(rick.user), (_o, state) =>
      state.storage.sql.exec<{ type: string }>("SELECT type FROM log WHERE ref = ? ORDER BY seq", orig.message).toArray(),
    );
    expect(changes.map((r) => r.type)).toEqual(["HIDDEN", "HIDDEN"]);
    const replay = await (await Client.connect(rick.user, { since: 0 })).take(2);
    expect(replay.map((f) => f.content)).toEqual(["SETTINGS_CHANGED", "TEXT_MESSAGE"]);
    expect(replay[1]!.id).toBe(marker.message);
  });
});
