/**
 * Conversation settings (PROTOCOL.md, Blocking, reports and conversation
 * settings) on real objects: PATCH /v1/conversations/<id> answers the
 * conversation as listed and is one SETTINGS_CHANGED frame with the fields
 * that changed (none for no change), live and on `since`; the list shows
 * mutedUntil/pinned/archived, leaves archived ones out unless
 * ?archived=true; a new message un-archives an unmuted conversation (not a
 * muted one, not an edit or reaction); a muted one is out of the total unread
 * and makes no message.offline webhook until mutedUntil; 404 for a
 * conversation the user does not have (a group they left is still theirs);
 * 400 naming the field for an unknown field or a bad value.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isoSecond } from "../../src/protocol/build.ts";
import { UserObject } from "../../src/user/object.ts";
import type { QueuedEvent } from "../../src/webhooks/events.ts";
import { api, apiJson, Client, createGroup, directMessage, expectRefused, type Frame, TIME, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

interface Listed {
  conversations: Frame[];
  unread: number;
}

const list = async (user: string, query = ""): Promise<Listed> =>
  (await apiJson(user, "GET", `/v1/conversations${query}`)) as unknown as Listed;
const patch = (user: string, id: string, body: unknown) => apiJson(user, "PATCH", `/v1/conversations/${encodeURIComponent(id)}`, body);

/** `from` writes `to` `n` messages, and `to` has them all. */
async function write(from: Client, to: Client, n = 1): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = (await from.message(to.user, `m${i}`)).message as string;
    await to.expect({ id });
    ids.push(id);
  }
  return ids;
}

describe("PATCH /v1/conversations/<id>", () => {
  it("a new conversation is unmuted, unpinned and not archived; a patch answers it as listed, and tells every device what changed", async () => {
    const [john, rick] = await users("john", "rick");
    const phone = await Client.connect(john.user);
    await write(rick, john);
    await phone.expect({ type: "USER_MSG" });
    expect((await list(john.user)).conversations[0]).toMatchObject({ id: rick.user, mutedUntil: null, pinned: false, archived: false });
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const answer = await patch(john.user, rick.user, { mutedUntil: until, pinned: true });
    const listed = (await list(john.user)).conversations[0];
    expect(answer).toEqual(listed);
    expect(answer).toMatchObject({ id: rick.user, mutedUntil: isoSecond(Date.parse(until)), pinned: true, archived: false, unread: 1 });
    for (const c of [john, phone]) {
      expect(await c.expect({ content: "SETTINGS_CHANGED" })).toMatchObject({
        from: "system",
        to: john.user,
        time: expect.stringMatching(TIME),
        message: { conversation: rick.user, mutedUntil: isoSecond(Date.parse(until)), pinned: true },
      });
    }
    // The same values again: no frame. One field: a frame with that field alone.
    await patch(john.user, rick.user, { mutedUntil: until, pinned: true });
    await phone.expectNothingMore();
    await patch(john.user, rick.user, { pinned: false, archived: false });
    expect((await phone.expect({ content: "SETTINGS_CHANGED" })).message).toEqual({ conversation: rick.user, pinned: false });
    await patch(john.user, rick.user, { mutedUntil: null });
    expect((await phone.expect({ content: "SETTINGS_CHANGED" })).message).toEqual({ conversation: rick.user, mutedUntil: null });
    // A new device replays them with `since`; history never shows them.
    const laptop = await Client.connect(john.user, { since: 0 });
    const replayed = await laptop.drain();
    expect(replayed.filter((f) => f.content === "SETTINGS_CHANGED").map((f) => Object.keys(f.message as object))).toEqual([
      ["conversation", "mutedUntil", "pinned"],
      ["conversation", "pinned"],
      ["conversation", "mutedUntil"],
    ]);
    const history = (await apiJson(john.user, "GET", `/v1/conversations/${rick.user}/messages`)).messages as Frame[];
    expect(history.map((f) => f.content)).toEqual(["TEXT_MESSAGE"]);
  });

  it("archived conversations are left out of the list unless ?archived=true, which lists only them; the total unread still counts them", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    await write(rick, john, 2);
    await write(morty, john, 3);
    await patch(john.user, rick.user, { archived: true });
    const main = await list(john.user);
    expect(main.conversations.map((c) => c.id)).toEqual([morty.user]);
    expect(main.unread).toBe(5);
    const archived = await list(john.user, "?archived=true");
    expect(archived.conversations.map((c) => [c.id, c.archived, c.unread])).toEqual([[rick.user, true, 2]]);
    expect(archived.unread).toBe(5);
    expect((await list(john.user, "?archived=false")).conversations.map((c) => c.id)).toEqual([morty.user]);
  });

  it("a new message from either party un-archives an unmuted conversation; an edit or reaction does not; a muted one stays archived", async () => {
    const [john, rick] = await users("john", "rick");
    const [first] = await write(rick, john);
    await patch(john.user, rick.user, { archived: true });
    rick.send({ id: "e1", to: john.user, type: "USER_MSG", content: "MESSAGE_EDIT", ref: first, message: "edited" });
    await rick.ack("e1");
    await john.expect({ content: "MESSAGE_EDIT" });
    john.send({ id: "r1", to: rick.user, type: "USER_MSG", content: "REACTION", ref: first, message: { key: "👍", on: true } });
    await john.ack("r1");
    expect((await list(john.user)).conversations).toEqual([]);
    await write(john, rick);
    expect((await list(john.user)).conversations.map((c) => [c.id, c.archived])).toEqual([[rick.user, false]]);
    // Muted and archived: it stays in the archive whoever writes.
    await patch(john.user, rick.user, { archived: true, mutedUntil: new Date(Date.now() + 60_000).toISOString() });
    await write(rick, john);
    expect((await list(john.user)).conversations).toEqual([]);
    expect((await list(john.user, "?archived=true")).conversations.map((c) => c.id)).toEqual([rick.user]);
  });

  it("a muted conversation is out of the total unread (its own unread still counts) until mutedUntil, then back in", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    await write(rick, john, 2);
    await write(morty, john, 1);
    const until = Date.now() + 2000;
    await patch(john.user, rick.user, { mutedUntil: new Date(until).toISOString() });
    const muted = await list(john.user);
    expect(muted.unread).toBe(1);
    expect(muted.conversations.find((c) => c.id === rick.user)).toMatchObject({ unread: 2, mutedUntil: expect.stringMatching(TIME) });
    await new Promise((r) => setTimeout(r, until + 1100 - Date.now()));
    const after = await list(john.user);
    expect(after.unread).toBe(3);
    expect(after.conversations.find((c) => c.id === rick.user)).toMatchObject({ mutedUntil: null });
  });

  it("a muted conversation makes no message.offline webhook; an unmuted one does", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    await write(rick, john);
    await write(morty, john);
    await patch(john.user, rick.user, { mutedUntil: "9999-12-31T23:59:59Z" });
    john.close();
    const message = (from: string) => directMessage(from, john.user);
    const queued: QueuedEvent[] = [];
    const sendBatch = env.WEBHOOKS.sendBatch.bind(env.WEBHOOKS);
    vi.spyOn(env.WEBHOOKS, "sendBatch").mockImplementation(async (batch) => {
      for (const m of batch) queued.push(m.body as QueuedEvent);
      return sendBatch(batch);
    });
    await new Promise((r) => setTimeout(r, 100));
    await runInDurableObject(env.USERS.getByName(john.user), async (_o, state) => {
      await new UserObject(state, { ...env, WEBHOOK_URL: "https://backend.example/hooks", WEBHOOK_SECRET: "s" }).deliver([
        message(rick.user),
        message(morty.user),
      ]);
    });
    expect(queued.map((e) => JSON.parse(e.body).from)).toEqual([morty.user]);
  });

  it("answers 404 for a conversation the user does not have; a group they were removed from is still theirs", async () => {
    const [john, rick] = [uniqueUser("john"), uniqueUser("rick")];
    await expectRefused(await api(john, "PATCH", `/v1/conversations/${rick}`, { pinned: true }), 404, "not_found");
    const group = await createGroup(john, [rick]);
    expect((await apiJson(john, "DELETE", `/v1/groups/${group}/members/${rick}`)).members).toHaveLength(1);
    const answer = await patch(rick, group, { archived: true });
    expect(answer).toMatchObject({ id: group, kind: "group", archived: true });
  });

  it("refuses an unknown field, a mutedUntil that is not an ISO time, and non-boolean flags with 400 naming the field", async () => {
    const [john, rick] = await users("john", "rick");
    await write(rick, john);
    const path = `/v1/conversations/${rick.user}`;
    for (const [body, error] of [
      [{ colour: "red" }, "bad_colour"],
      [{ pinned: true, muted: true }, "bad_muted"],
      [{ mutedUntil: "tomorrow" }, "bad_mutedUntil"],
      [{ mutedUntil: 1700000000 }, "bad_mutedUntil"],
      [{ pinned: "yes" }, "bad_pinned"],
      [{ archived: 1 }, "bad_archived"],
    ] as const) {
      const reason = await expectRefused(await api(john.user, "PATCH", path, body), 400, error);
      expect(reason.startsWith(error.slice(4))).toBe(true);
    }
    await expectRefused(await api(john.user, "PATCH", path, "{"), 400, "bad_json");
    await expectRefused(await api(john.user, "GET", "/v1/conversations?archived=maybe"), 400, "bad_archived");
    await john.expectNothingMore();
    expect((await list(john.user)).conversations[0]).toMatchObject({ mutedUntil: null, pinned: false, archived: false });
  });
});
