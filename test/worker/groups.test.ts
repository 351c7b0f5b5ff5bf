/**
 * Groups over HTTP (PROTOCOL.md, Groups) on real objects: create (with an
 * Idempotency-Key scoped to its creator), get, rename, add, role changes,
 * remove and leave; who may do what (404 for non-members, no existence
 * leak; 403 for members who need an admin; 409s); the GROUP_EVENT each
 * change puts in every member's log, in the group's order, with the removed
 * member's last frame; the last admin's succession; bad bodies and ids.
 * Group messages and receipts: group-messages.test.ts.
 */
import { describe, expect, it } from "vitest";
import { api, apiJson, type Client, createGroup, expectRefused, type Frame, TIME, uniqueUser, users } from "./helpers.ts";

const GROUP_ID = /^group:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const events = (c: Client, n: number) => c.expectAll({ content: "GROUP_EVENT" }, n);

describe("POST /v1/groups", () => {
  it("creates the group with the creator as admin, and a `created` event as every member's first frame", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const group = await apiJson(john.user, "POST", "/v1/groups", { name: "Launch", members: [rick.user, morty.user, rick.user] }, 201);
    expect(group).toEqual({
      id: expect.stringMatching(GROUP_ID),
      name: "Launch",
      created: expect.stringMatching(TIME),
      members: [
        { user: john.user, role: "admin", joined: expect.stringMatching(TIME), deliveredUpTo: null, readUpTo: null },
        { user: rick.user, role: "member", joined: expect.stringMatching(TIME), deliveredUpTo: null, readUpTo: null },
        { user: morty.user, role: "member", joined: expect.stringMatching(TIME), deliveredUpTo: null, readUpTo: null },
      ],
    });
    for (const c of [john, rick, morty]) {
      const [created] = await events(c, 1);
      expect(created).toEqual({
        id: expect.any(String),
        from: john.user,
        to: group.id,
        type: "SYSTEM_MSG",
        time: expect.stringMatching(TIME),
        content: "GROUP_EVENT",
        message: {
          event: "created",
          name: "Launch",
          members: [
            { user: john.user, role: "admin" },
            { user: rick.user, role: "member" },
            { user: morty.user, role: "member" },
          ],
        },
        seq: 1,
      });
    }
    // It is a conversation of each member's, with the group's name.
    const list = await apiJson(morty.user, "GET", "/v1/conversations");
    expect(list.conversations).toEqual([expect.objectContaining({ id: group.id, kind: "group", name: "Launch", lastSeq: 1, unread: 0 })]);
  });

  it("returns the same group for a retried create with the same Idempotency-Key, scoped to its creator", async () => {
    const [a, b] = [uniqueUser("a"), uniqueUser("b")];
    const create = (user: string, key: string) =>
      api(user, "POST", "/v1/groups", { name: "Retry", members: [] }, { "Idempotency-Key": key });
    const first = (await (await create(a, "k-1")).json()) as Frame;
    const again = await create(a, "k-1");
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(first);
    expect(((await (await create(a, "k-2")).json()) as Frame).id).not.toBe(first.id);
    expect(((await (await create(b, "k-1")).json()) as Frame).id).not.toBe(first.id);
    // Without a key every create is a new group.
    const plain = async () => (await apiJson(a, "POST", "/v1/groups", { name: "x" }, 201)).id;
    expect(await plain()).not.toBe(await plain());
  });

  it("answers bad bodies with 400 naming the field", async () => {
    const u = uniqueUser("bad");
    const cases: [unknown, string][] = [
      [{ members: [] }, "bad_name"],
      [{ name: "" }, "bad_name"],
      [{ name: "x".repeat(129) }, "bad_name"],
      [{ name: 5 }, "bad_name"],
      [{ name: "ok", members: "rick" }, "bad_members"],
      [{ name: "ok", members: [""] }, "bad_members"],
      [{ name: "ok", members: ["system"] }, "bad_members"],
      [{ name: "ok", members: [`group:${crypto.randomUUID()}`] }, "bad_members"],
      [{ name: "ok", members: ["x".repeat(129)] }, "bad_members"],
      ["not json", "bad_json"],
    ];
    for (const [body, error] of cases) {
      const reason = await expectRefused(await api(u, "POST", "/v1/groups", body), 400, error);
      if (error !== "bad_json") expect(reason).toMatch(new RegExp(`^${error.slice(4)}`));
    }
    await expectRefused(
      await api(u, "POST", "/v1/groups", { name: "ok" }, { "Idempotency-Key": "k".repeat(256) }),
      400,
      "bad_idempotency_key",
    );
    // A create may name 1,000 members of 128 characters (PROTOCOL.md, Large groups), so its limit is 513 KiB, not a message's.
    await expectRefused(await api(u, "POST", "/v1/groups", { name: "x".repeat(600_000) }), 413, "too_large");
  });
});

describe("GET /v1/groups/<id>", () => {
  it("shows the group to members, by plain or percent-encoded id, and 404 to anyone else and for ids that are not groups", async () => {
    const [a, b] = [uniqueUser("a"), uniqueUser("b")];
    const id = await createGroup(a, [b]);
    expect((await apiJson(b, "GET", `/v1/groups/${id}`)).id).toBe(id);
    expect((await apiJson(b, "GET", `/v1/groups/${encodeURIComponent(id)}`)).id).toBe(id);
    const stranger = uniqueUser("stranger");
    const seen = await expectRefused(await api(stranger, "GET", `/v1/groups/${id}`), 404, "not_found");
    const missing = await expectRefused(await api(stranger, "GET", `/v1/groups/group:${crypto.randomUUID()}`), 404, "not_found");
    // A non-member cannot tell an existing group from a missing one.
    expect(seen).toBe(missing);
    await expectRefused(await api(a, "GET", "/v1/groups/not-a-group"), 404, "not_found");
    for (const change of [
      api(stranger, "PATCH", `/v1/groups/${id}`, { name: "mine now" }),
      api(stranger, "POST", `/v1/groups/${id}/members`, { user: stranger }),
      api(stranger, "PUT", `/v1/groups/${id}/members/${a}`, { role: "member" }),
      api(stranger, "DELETE", `/v1/groups/${id}/members/${b}`),
    ]) {
      expect(await expectRefused(await change, 404, "not_found")).toBe(seen);
    }
  });
});

describe("changes", () => {
  it("rename: admins only (403 for members), a `renamed` event for everyone, the conversation takes the name", async () => {
    const [admin, member] = await users("admin", "member");
    const id = await createGroup(admin.user, [member.user], "Old");
    await expectRefused(await api(member.user, "PATCH", `/v1/groups/${id}`, { name: "Mine" }), 403, "forbidden");
    expect((await apiJson(admin.user, "PATCH", `/v1/groups/${id}`, { name: "New" })).name).toBe("New");
    for (const c of [admin, member]) {
      const [, renamed] = await events(c, 2);
      expect(renamed).toMatchObject({ from: admin.user, to: id, message: { event: "renamed", name: "New" }, seq: 2 });
    }
    expect((await apiJson(member.user, "GET", "/v1/conversations")).conversations[0]).toMatchObject({ name: "New" });
    await expectRefused(await api(admin.user, "PATCH", `/v1/groups/${id}`, { name: "" }), 400, "bad_name");
  });

  it("add: admins only; the new member's first frame is its own member_added (with the group's name); twice is 409", async () => {
    const [admin, member, newbie] = await users("admin", "member", "newbie");
    const id = await createGroup(admin.user, [member.user]);
    await events(member, 1);
    await admin.message(id, "before you came");
    await expectRefused(await api(member.user, "POST", `/v1/groups/${id}/members`, { user: newbie.user }), 403, "forbidden");
    const group = await apiJson(admin.user, "POST", `/v1/groups/${id}/members`, { user: newbie.user });
    expect(group.members.map((m: Frame) => [m.user, m.role])).toEqual([
      [admin.user, "admin"],
      [member.user, "member"],
      [newbie.user, "member"],
    ]);
    const first = await newbie.next();
    expect(first).toMatchObject({
      from: admin.user,
      to: id,
      content: "GROUP_EVENT",
      message: { event: "member_added", user: newbie.user, role: "member", name: "Launch" },
      seq: 1,
    });
    expect(await events(member, 1)).toEqual([expect.objectContaining({ message: expect.objectContaining({ event: "member_added" }) })]);
    // The newcomer never got what was said before.
    await newbie.expectNothingMore();
    await expectRefused(await api(admin.user, "POST", `/v1/groups/${id}/members`, { user: newbie.user }), 409, "already_member");
    await expectRefused(await api(admin.user, "POST", `/v1/groups/${id}/members`, { user: "x", role: "owner" }), 400, "bad_role");
    // Now a member, the newcomer can send.
    const ack = await newbie.message(id, "hello all");
    expect(await member.expect({ id: ack.message })).toMatchObject({ from: newbie.user, message: "hello all" });
  });

  it("role changes: admins only; a role_changed event; the new admin can then make changes", async () => {
    const [admin, member] = await users("admin", "member");
    const id = await createGroup(admin.user, [member.user]);
    await expectRefused(await api(member.user, "PUT", `/v1/groups/${id}/members/${member.user}`, { role: "admin" }), 403, "forbidden");
    await expectRefused(await api(admin.user, "PUT", `/v1/groups/${id}/members/nobody`, { role: "admin" }), 404, "not_member");
    await apiJson(admin.user, "PUT", `/v1/groups/${id}/members/${member.user}`, { role: "admin" });
    const [, changed] = await events(member, 2);
    expect(changed).toMatchObject({ from: admin.user, message: { event: "role_changed", user: member.user, role: "admin" } });
    expect((await apiJson(member.user, "PATCH", `/v1/groups/${id}`, { name: "Promoted" })).name).toBe("Promoted");
  });

  it("remove: admins remove anyone, the removed member gets member_removed as its last frame and can no longer send or see", async () => {
    const [admin, member, other] = await users("admin", "member", "other");
    const id = await createGroup(admin.user, [member.user, other.user]);
    await events(member, 1);
    await expectRefused(await api(other.user, "DELETE", `/v1/groups/${id}/members/${member.user}`), 403, "forbidden");
    const group = await apiJson(admin.user, "DELETE", `/v1/groups/${id}/members/${member.user}`);
    expect(group.members.map((m: Frame) => m.user)).toEqual([admin.user, other.user]);
    expect(await member.next()).toMatchObject({ message: { event: "member_removed", user: member.user }, from: admin.user });
    await admin.message(id, "after you left");
    await member.expectNothingMore();
    member.send({ id: "x-1", to: id, type: "USER_MSG", content: "TEXT_MESSAGE", message: "let me back" });
    expect(await member.error("x-1")).toMatchObject({ message: { code: "FORBIDDEN", reason: "you are not a member of this group" } });
    await expectRefused(await api(member.user, "GET", `/v1/groups/${id}`), 404, "not_found");
    await expectRefused(await api(admin.user, "DELETE", `/v1/groups/${id}/members/${member.user}`), 404, "not_member");
  });

  it("leave: anyone removes themself (member_left); when the last admin leaves, the longest-standing member becomes admin", async () => {
    const [admin, first, second] = await users("admin", "first", "second");
    const id = await createGroup(admin.user, [first.user, second.user]);
    await apiJson(admin.user, "DELETE", `/v1/groups/${id}/members/${admin.user}`);
    const [, left, promoted] = await events(second, 3);
    expect(left).toMatchObject({ from: admin.user, message: { event: "member_left", user: admin.user } });
    expect(promoted).toMatchObject({ from: "system", message: { event: "role_changed", user: first.user, role: "admin" } });
    expect((await apiJson(second.user, "GET", `/v1/groups/${id}`)).members).toEqual([
      expect.objectContaining({ user: first.user, role: "admin" }),
      expect.objectContaining({ user: second.user, role: "member" }),
    ]);
    // The leaver's last frame of the group is its own member_left.
    const [, own] = await events(admin, 2);
    expect(own).toMatchObject({ message: { event: "member_left", user: admin.user } });
    await admin.expectNothingMore();
    await apiJson(second.user, "DELETE", `/v1/groups/${id}/members/${second.user}`);
    expect((await apiJson(first.user, "GET", `/v1/groups/${id}`)).members.map((m: Frame) => m.user)).toEqual([first.user]);
  });

  it("every member's log has the changes in the same order", async () => {
    const [admin, a, b] = await users("admin", "a", "b");
    const id = await createGroup(admin.user, [a.user, b.user]);
    await Promise.all([
      api(admin.user, "PATCH", `/v1/groups/${id}`, { name: "One" }),
      api(admin.user, "PUT", `/v1/groups/${id}/members/${a.user}`, { role: "admin" }),
      api(admin.user, "PATCH", `/v1/groups/${id}`, { name: "Two" }),
    ]);
    const order = async (c: Client) => (await events(c, 4)).map((f) => f.id);
    const first = await order(admin);
    expect(await order(a)).toEqual(first);
    expect(await order(b)).toEqual(first);
  });
});
