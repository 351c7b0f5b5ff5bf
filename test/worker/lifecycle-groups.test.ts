/**
 * Replies, edits, deletes and reactions in groups (PROTOCOL.md, v3), on real
 * objects: they travel in the group's one order to every member (the
 * sender's other sockets included), every member's history shows each
 * message as it is now, admins delete anyone's message, and what the group
 * refuses in its order comes after the ack, as an ERROR with the client id
 * (`ref`) and the server id (`id`), logged for every device of the sender.
 */
import { describe, expect, it, vi } from "vitest";
import { apiJson, Client, createGroup, type Frame, users } from "./helpers.ts";

async function group(creator: Client, ...others: Client[]): Promise<string> {
  const id = await createGroup(
    creator.user,
    others.map((c) => c.user),
  );
  for (const c of [creator, ...others]) await c.expect({ content: "GROUP_EVENT", to: id });
  return id;
}

function change(c: Client, to: string, content: string, ref: string, message?: unknown, id = crypto.randomUUID()) {
  c.send({ id, to, type: "USER_MSG", content, ref, ...(message === undefined ? {} : { message }) });
  return c.ack(id);
}

const history = async (user: string, conversation: string) =>
  (await apiJson(user, "GET", `/v1/conversations/${encodeURIComponent(conversation)}/messages`)).messages as Frame[];

/** The late refusal of the change acked as `ack`: its code. */
async function lateRefusal(c: Client, clientId: string, serverId: string): Promise<string> {
  const error = await c.expect({ content: "ERROR", message: { ref: clientId } });
  expect(error.message.id).toBe(serverId);
  expect(error.seq).toEqual(expect.any(Number));
  return error.message.code as string;
}

describe("changes in a group", () => {
  it("reach every member in the group's order, and every member's history shows each message as it is now", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const id = await group(john, rick, morty);
    const johnsPhone = await Client.connect(john.user);
    const orig = await john.message(id, "Launch at 10");
    for (const c of [rick, morty, johnsPhone]) await c.expect({ id: orig.message });
    rick.send({ id: "r-1", to: id, type: "USER_MSG", content: "TEXT_MESSAGE", message: "ok", replyTo: orig.message });
    const answer = await rick.ack("r-1");
    const edited = await change(john, id, "MESSAGE_EDIT", orig.message, "Launch at 11");
    const r1 = await change(morty, id, "REACTION", orig.message, { key: "🚀", on: true });
    const r2 = await change(rick, id, "REACTION", orig.message, { key: "🚀", on: true });
    const expected = [answer.message, edited.message, r1.message, r2.message];
    // Every member's sockets get all four (but each sender's own sending socket), in one order.
    const orders = await Promise.all(
      [rick, morty, johnsPhone].map(async (c) => {
        const got = await c.expectAll((f: Frame) => expected.includes(f.id), c === johnsPhone ? 4 : c === rick ? 2 : 3);
        return got.map((f) => f.id);
      }),
    );
    const all = orders.find((o) => o.length === 4)!;
    for (const o of orders) expect(o).toEqual(all.filter((x) => o.includes(x)));
    for (const [user, me] of [
      [john.user, false],
      [rick.user, true],
      [morty.user, true],
    ] as const) {
      await vi.waitFor(async () => {
        const page = await history(user, id);
        const first = page.find((m) => m.id === orig.message)!;
        expect(first).toMatchObject({ message: "Launch at 11", edited: edited.time, reactions: [{ key: "🚀", count: 2, me }] });
        expect(page.find((m) => m.id === answer.message)).toMatchObject({ replyTo: orig.message, message: "ok" });
        expect(page.filter((m) => m.content !== "TEXT_MESSAGE" && m.content !== "GROUP_EVENT")).toEqual([]);
      });
    }
  });

  it("lets an admin delete anyone's message; a member who is neither sender nor admin is refused late", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const id = await group(john, rick, morty);
    const first = await morty.message(id, "spam");
    const second = await morty.message(id, "more spam");
    for (const c of [john, rick]) await c.expectAll({ from: morty.user }, 2);
    // rick is a member, not an admin: acked (the group decides), then FORBIDDEN in the group's order.
    const refused = await change(rick, id, "MESSAGE_DELETE", first.message, undefined, "rick-del");
    expect(await lateRefusal(rick, "rick-del", refused.message)).toBe("FORBIDDEN");
    const byAdmin = await change(john, id, "MESSAGE_DELETE", first.message);
    for (const c of [rick, morty]) await c.expect({ id: byAdmin.message, content: "MESSAGE_DELETE", ref: first.message });
    await change(morty, id, "MESSAGE_DELETE", second.message);
    for (const user of [john.user, rick.user, morty.user]) {
      // The sender's own copy comes back from the group after the ack.
      await vi.waitFor(async () => {
        const page = (await history(user, id)).filter((m) => m.content === "TEXT_MESSAGE");
        expect(page.map((m) => [m.message, typeof m.deleted])).toEqual([
          [null, "string"],
          [null, "string"],
        ]);
      });
    }
    // The refused delete reached no one.
    expect((await morty.drain()).some((f) => f.id === refused.message)).toBe(false);
  });

  it("refuses late what reaches the group after the message was deleted, or by a sender who was removed", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const id = await group(john, rick, morty);
    const orig = await john.message(id, "draft");
    await rick.expect({ id: orig.message });
    // Pipelined: both pass john's own checks (the delete has not come back yet); the group takes the delete first.
    john.send({ id: "d-1", to: id, type: "USER_MSG", content: "MESSAGE_DELETE", ref: orig.message });
    john.send({ id: "e-1", to: id, type: "USER_MSG", content: "MESSAGE_EDIT", ref: orig.message, message: "final" });
    rick.send({ id: "x-1", to: id, type: "USER_MSG", content: "REACTION", ref: orig.message, message: { key: "👍", on: true } });
    const [, editAck] = [await john.ack("d-1"), await john.ack("e-1")];
    const reaction = await rick.expect((f) => (f.id === "x-1" && f.content === "MESSAGE_RECEIVED") || f.message?.ref === "x-1");
    expect(await lateRefusal(john, "e-1", editAck.message)).toBe("FORBIDDEN");
    // rick's reaction either reached the group before the delete (and was cleared by it) or after (FORBIDDEN, late or early).
    expect(reaction.content === "MESSAGE_RECEIVED" || reaction.message.code === "FORBIDDEN").toBe(true);
    await vi.waitFor(async () => {
      const page = await history(rick.user, id);
      expect(page.find((m) => m.id === orig.message)).toMatchObject({ message: null, deleted: expect.any(String) });
      expect(page.find((m) => m.id === orig.message)!.reactions).toBeUndefined();
      expect(JSON.stringify(page)).not.toContain("final");
    });
    // A removed member's edit is refused late too.
    const mine = await morty.message(id, "bye");
    await john.expect({ id: mine.message });
    await apiJson(john.user, "DELETE", `/v1/groups/${encodeURIComponent(id)}/members/${morty.user}`);
    await morty.expect({ content: "GROUP_EVENT", message: { event: "member_removed" } });
    morty.send({ id: "m-1", to: id, type: "USER_MSG", content: "MESSAGE_EDIT", ref: mine.message, message: "still here" });
    expect((await morty.error("m-1")).message.code).toBe("FORBIDDEN");
  });

  it("drops a no-op reaction in the group's order and refuses a 21st key late with BAD_MESSAGE", async () => {
    const [john, rick] = await users("john", "rick");
    const id = await group(john, rick);
    const orig = await john.message(id, "vote");
    await rick.expect({ id: orig.message });
    const on = await change(rick, id, "REACTION", orig.message, { key: "👍", on: true });
    const noop = await change(rick, id, "REACTION", orig.message, { key: "👍", on: true });
    await john.expect({ id: on.message });
    for (let i = 1; i < 20; i++) await change(rick, id, "REACTION", orig.message, { key: `k${i}`, on: true });
    const over = await change(rick, id, "REACTION", orig.message, { key: "k20", on: true }, "over");
    expect(await lateRefusal(rick, "over", over.message)).toBe("BAD_MESSAGE");
    await john.expectAll({ content: "REACTION", from: rick.user }, 19);
    const reactions = (await history(john.user, id)).find((m) => m.id === orig.message)!.reactions as Frame[];
    expect(reactions).toHaveLength(20);
    expect(reactions[0]).toEqual({ key: "👍", count: 1, me: false });
    const all = await john.drain();
    expect(all.some((f) => f.id === noop.message || f.id === over.message)).toBe(false);
  });
});
