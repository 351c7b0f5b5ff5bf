/**
 * The client library's replies, edits, deletes and reactions against a real
 * `wrangler dev`: each method's frame reaches the other party as a typed
 * event (direct, and in a group of three), history shows each message as it
 * is now, delete for me reaches the user's other device as a `settings`
 * event, and a refusal (someone else's message) rejects the send's `acked`.
 * The frames themselves are proven in test/worker/lifecycle*.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeleteFrame,
  type EditFrame,
  LunarLoomClient,
  type ReactionFrame,
  SendError,
  type SettingsChangedFrame,
  type UserMsgFrame,
} from "../../src/client/index.ts";
import { type DevServer, startDevServer } from "./devserver.ts";
import { devToken, uniqueUser, until } from "./wsclient.ts";

let server: DevServer;
const clients: LunarLoomClient[] = [];

beforeAll(async () => {
  server = await startDevServer();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

function start(user: string) {
  const client = new LunarLoomClient({ url: server.url, token: () => devToken(server, user), backoff: { baseMs: 50, capMs: 400 } });
  clients.push(client);
  const seen = {
    messages: [] as UserMsgFrame[],
    edits: [] as EditFrame[],
    deletes: [] as DeleteFrame[],
    reactions: [] as ReactionFrame[],
    settings: [] as SettingsChangedFrame[],
  };
  client.on("message", (m) => seen.messages.push(m));
  client.on("edit", (e) => seen.edits.push(e));
  client.on("delete", (d) => seen.deletes.push(d));
  client.on("reaction", (r) => seen.reactions.push(r));
  client.on("settings", (s) => seen.settings.push(s));
  client.connect();
  return { client, seen };
}

describe("message lifecycle through the client library", () => {
  it("reply, edit, react, delete for everyone and delete for me between two users, and history as it is now", async () => {
    const [johnId, rickId] = [uniqueUser("john"), uniqueUser("rick")];
    const john = start(johnId);
    const rick = start(rickId);
    const johnsPhone = start(johnId);
    const first = await john.client.send(rickId, "Lunch at 12?").acked;
    await until("rick has the message", () => rick.seen.messages.length === 1);
    const answer = await rick.client.reply(johnId, first.serverId, "Sure!").acked;
    await john.client.edit(rickId, first.serverId, "Lunch at 1?").acked;
    await rick.client.react(johnId, first.serverId, "👍").acked;
    await until("john has the reply and the reaction", () => john.seen.messages.length === 1 && john.seen.reactions.length === 1);
    expect(john.seen.messages[0]).toMatchObject({ id: answer.serverId, replyTo: first.serverId, message: "Sure!" });
    expect(john.seen.reactions[0]).toMatchObject({ from: rickId, ref: first.serverId, message: { key: "👍", on: true } });
    await until("rick has the edit", () => rick.seen.edits.length === 1);
    expect(rick.seen.edits[0]).toMatchObject({ from: johnId, ref: first.serverId, message: "Lunch at 1?" });
    const page = await rick.client.history(johnId);
    expect(page.messages.map((m) => m.content === "TEXT_MESSAGE" && [m.message, m.edited !== undefined, m.reactions])).toEqual([
      ["Lunch at 1?", true, [{ key: "👍", count: 1, me: true }]],
      ["Sure!", false, undefined],
    ]);
    // Someone else's message cannot be deleted for everyone: `acked` rejects.
    await expect(rick.client.deleteForEveryone(johnId, first.serverId).acked).rejects.toBeInstanceOf(SendError);
    await john.client.deleteForEveryone(rickId, first.serverId).acked;
    await until("rick has the delete", () => rick.seen.deletes.length === 1);
    const after = (await rick.client.history(johnId)).messages[0]!;
    expect(after).toMatchObject({ id: first.serverId, message: null, deleted: expect.any(String) });
    // Delete for me: gone from john's history, and his phone hears of it.
    await john.client.deleteForMe(rickId, answer.serverId);
    await until("john's phone has the settings frame", () => johnsPhone.seen.settings.length === 1);
    expect(johnsPhone.seen.settings[0]!.message).toEqual({ hidden: { conversation: rickId, message: answer.serverId } });
    expect((await john.client.history(rickId)).messages.map((m) => m.id)).toEqual([first.serverId]);
  });

  it("in a group of three: every member gets each change, and an admin deletes a member's message", async () => {
    const [aId, bId, cId] = [uniqueUser("ann"), uniqueUser("bob"), uniqueUser("cat")];
    const [a, b, c] = [start(aId), start(bId), start(cId)];
    const group = await a.client.createGroup({ name: "Launch", members: [bId, cId] });
    await until("everyone is in", () => [a, b, c].every((x) => x.client.state.status === "open"));
    await new Promise((r) => setTimeout(r, 300));
    const sent = await b.client.send(group.id, "T-minus 10").acked;
    await until("ann and cat have it", () => a.seen.messages.length === 1 && c.seen.messages.length === 1);
    await c.client.react(group.id, sent.serverId, "🚀").acked;
    await b.client.edit(group.id, sent.serverId, "T-minus 5").acked;
    await until("ann has the reaction and the edit", () => a.seen.reactions.length === 1 && a.seen.edits.length === 1);
    await a.client.deleteForEveryone(group.id, sent.serverId).acked;
    for (const x of [b, c]) await until("the delete reached every member", () => x.seen.deletes.length === 1);
    for (const x of [a, b, c]) {
      const page = await x.client.history(group.id);
      expect(page.messages.find((m) => m.id === sent.serverId)).toMatchObject({ message: null, deleted: expect.any(String) });
    }
  });
});
