/**
 * Large groups' limits (PROTOCOL.md, Large groups): MAX_GROUP_MEMBERS and
 * GROUP_SHARD_SIZE are refused at startup out of range, naming the var; a
 * create takes up to 1,000 members and POST /v1/groups/<id>/members a batch
 * of up to 1,000 (users already in are skipped), a batch is one
 * member_added event that every new member learns its membership from. The
 * cap on batches (409 group_full, refused whole) is tested with a small
 * MAX_GROUP_MEMBERS in worker-limits/group-limits.test.ts. A 1,000-member
 * create wakes 1,000 objects: slow on a shared machine, hence its timeout.
 */
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config.ts";
import { envWith } from "./auth-helpers.ts";
import { api, apiJson, Client, createGroup, expectRefused, uniqueUser } from "./helpers.ts";

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}-${"x".repeat(100)}`);

describe("MAX_GROUP_MEMBERS and GROUP_SHARD_SIZE", () => {
  it("default to 1,024 and 100, and are refused out of 2..10,000 with a message naming the var", () => {
    expect(readConfig(envWith({ MAX_GROUP_MEMBERS: undefined, GROUP_SHARD_SIZE: undefined } as Partial<Env>)).maxGroupMembers).toBe(1024);
    expect(readConfig(envWith({ MAX_GROUP_MEMBERS: undefined, GROUP_SHARD_SIZE: undefined } as Partial<Env>)).groupShardSize).toBe(100);
    expect(readConfig(envWith({ MAX_GROUP_MEMBERS: "10000", GROUP_SHARD_SIZE: "2" })).maxGroupMembers).toBe(10_000);
    for (const name of ["MAX_GROUP_MEMBERS", "GROUP_SHARD_SIZE"] as const) {
      for (const bad of ["1", "0", "10001", "-5", "2.5", "many"]) {
        expect(() => readConfig(envWith({ [name]: bad })), `${name}=${bad}`).toThrow(
          new RegExp(`^${name} must be a whole number from 2 to 10000`),
        );
      }
    }
  });

  it("a Worker with an out-of-range var answers every request 500 naming it", async () => {
    const { default: worker } = await import("../../src/index.ts");
    const { createExecutionContext } = await import("cloudflare:test");
    const res = await worker.fetch(
      new Request("http://edge.test/v1/groups"),
      envWith({ MAX_GROUP_MEMBERS: "10001" }),
      createExecutionContext(),
    );
    expect(res.status).toBe(500);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/^MAX_GROUP_MEMBERS must be/);
  });
});

describe("batches of members", () => {
  it("a create takes 1,000 members with long ids (a body past 64 KiB), and 1,001 is a 400", async () => {
    const creator = uniqueUser("creator");
    const members = names(uniqueUser("c"), 1000);
    const body = JSON.stringify({ name: "Big", members });
    expect(body.length).toBeGreaterThan(64 * 1024);
    const group = await apiJson(creator, "POST", "/v1/groups", { name: "Big", members: members.slice(0, 999) }, 201);
    expect(group.members).toHaveLength(1000);
    const reason = await expectRefused(
      await api(creator, "POST", "/v1/groups", { name: "Big", members: [...members, "one-more"] }),
      400,
      "bad_members",
    );
    expect(reason).toMatch(/at most 1000 users per call/);
  }, 180_000);

  it("POST members takes a batch: those already in are skipped, one member_added names the rest, and each can send", async () => {
    const [admin, a, b] = await Promise.all(["admin", "a", "b"].map((n) => Client.connect(uniqueUser(n))));
    const id = await createGroup(admin!.user, [a!.user]);
    await admin!.expect({ content: "GROUP_EVENT" });
    const group = await apiJson(admin!.user, "POST", `/v1/groups/${id}/members`, { users: [a!.user, b!.user, "c-offline", b!.user] });
    expect(group.members.map((m: { user: string }) => m.user)).toEqual([admin!.user, a!.user, b!.user, "c-offline"]);
    const event = await b!.expect({ content: "GROUP_EVENT" });
    expect(event.message).toEqual({
      event: "member_added",
      members: [
        { user: b!.user, role: "member" },
        { user: "c-offline", role: "member" },
      ],
      role: "member",
      name: "Launch",
    });
    expect((await admin!.expect({ content: "GROUP_EVENT", message: { event: "member_added" } })).id).toBe(event.id);
    await b!.message(id, "hi from the batch");
    expect((await a!.expect({ type: "USER_MSG", to: id })).message).toBe("hi from the batch");
    // A batch of members all already in changes nothing and logs nothing.
    await apiJson(admin!.user, "POST", `/v1/groups/${id}/members`, { users: [a!.user, b!.user] });
    await b!.expectNothingMore(100);
    // Either one user or a batch, named so.
    for (const bad of [{ user: "x", users: ["y"] }, { role: "member" }]) {
      expect(await expectRefused(await api(admin!.user, "POST", `/v1/groups/${id}/members`, bad), 400, "bad_user")).toMatch(
        /either user or users/,
      );
    }
    await expectRefused(await api(admin!.user, "POST", `/v1/groups/${id}/members`, { users: [] }), 400, "bad_users");
    // One user by `user` is still 409 when already in (PROTOCOL.md, Groups).
    await expectRefused(await api(admin!.user, "POST", `/v1/groups/${id}/members`, { user: b!.user }), 409, "already_member");
  });

  it("the server API takes batches too", async () => {
    const res = await exports_fetch("POST", "/v1/admin/groups", { name: "Ops", members: names(uniqueUser("s"), 3), admins: ["boss"] });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const added = await exports_fetch("POST", `/v1/admin/groups/${encodeURIComponent(id)}/members`, { users: names(uniqueUser("t"), 3) });
    expect(((await added.json()) as { members: unknown[] }).members).toHaveLength(7);
  });
});

async function exports_fetch(method: string, path: string, body: unknown): Promise<Response> {
  const { exports } = await import("cloudflare:workers");
  return exports.default.fetch(`http://edge.test${path}`, {
    method,
    headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}
