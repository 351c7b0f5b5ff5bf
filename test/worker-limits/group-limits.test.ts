/**
 * MAX_GROUP_MEMBERS (3 in the worker-limits project): a create or an add
 * past it answers 409 group_full, and the group is left as it was.
 */
import { describe, expect, it } from "vitest";
import { api, apiJson, createGroup, expectRefused, uniqueUser } from "../worker/helpers.ts";

describe("MAX_GROUP_MEMBERS", () => {
  it("refuses a create with more members than the limit", async () => {
    const reason = await expectRefused(
      await api(uniqueUser("big"), "POST", "/v1/groups", { name: "Too many", members: ["a", "b", "c"] }),
      409,
      "group_full",
    );
    expect(reason).toMatch(/at most 3 members/);
  });

  it("refuses an add past the limit, and the group keeps its members", async () => {
    const admin = uniqueUser("admin");
    const id = await createGroup(admin, ["one", "two"]);
    await expectRefused(await api(admin, "POST", `/v1/groups/${id}/members`, { user: "three" }), 409, "group_full");
    expect((await apiJson(admin, "GET", `/v1/groups/${id}`)).members.map((m: { user: string }) => m.user)).toEqual([admin, "one", "two"]);
  });

  it("refuses a whole batch past the limit, skips users already in, and takes a batch that fits", async () => {
    const admin = uniqueUser("admin");
    const id = await createGroup(admin, ["one"]);
    await expectRefused(await api(admin, "POST", `/v1/groups/${id}/members`, { users: ["two", "three"] }), 409, "group_full");
    expect((await apiJson(admin, "GET", `/v1/groups/${id}`)).members).toHaveLength(2);
    // "one" is already in: only "two" counts against the limit.
    const group = await apiJson(admin, "POST", `/v1/groups/${id}/members`, { users: ["one", "two"] });
    expect(group.members.map((m: { user: string }) => m.user)).toEqual([admin, "one", "two"]);
    await expectRefused(await api(admin, "POST", `/v1/groups/${id}/members`, { users: ["four"] }), 409, "group_full");
  });
});
