/**
 * EDIT_WINDOW_SECONDS (1 in the worker-limits project): a message can be
 * edited within that long after it was sent, and later gets FORBIDDEN, in a
 * direct conversation (before any ack) and in a group (the sender's own
 * check refuses it before the ack too; the group would refuse it late).
 * A delete has no window.
 */
import { describe, expect, it } from "vitest";
import { type Client, createGroup, users } from "../worker/helpers.ts";

function edit(c: Client, to: string, ref: string, message: string): string {
  const id = crypto.randomUUID();
  c.send({ id, to, type: "USER_MSG", content: "MESSAGE_EDIT", ref, message });
  return id;
}

describe("EDIT_WINDOW_SECONDS", () => {
  it("allows an edit within the window and refuses one after it with FORBIDDEN; deletes have no window", async () => {
    const [john, rick] = await users("john", "rick");
    const gid = await createGroup(john.user, [rick.user]);
    await john.expect({ content: "GROUP_EVENT" });
    const direct = await john.message(rick.user, "typo");
    const inGroup = await john.message(gid, "typo");
    await john.ack(edit(john, rick.user, direct.message, "fixed"));
    await new Promise((r) => setTimeout(r, 1500));
    for (const [to, ref] of [
      [rick.user, direct.message],
      [gid, inGroup.message],
    ] as const) {
      const id = edit(john, to, ref, "too late");
      const answer = await john.expect((f) => f.id === id || f.message?.ref === id);
      expect(answer.message).toMatchObject({ code: "FORBIDDEN", ref: id });
    }
    john.send({ id: "d-1", to: rick.user, type: "USER_MSG", content: "MESSAGE_DELETE", ref: direct.message });
    await john.ack("d-1");
  });
});
