/**
 * The client library's safety calls against a real `wrangler dev`: a block
 * reaches the blocker's other device as a `settings` event and stops the
 * blocked user's messages (acked to them, never shown); a report is filed
 * with the evidence and read back on the server API; updateConversation
 * mutes and archives, the archive is listed apart, and a 404 is an
 * ApiError. The rules themselves are proven in test/worker/blocks.test.ts,
 * conversation-settings.test.ts and reports.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY } from "../../src/auth/devtoken.ts";
import { ApiError, LunarLoomClient, type SettingsChangedFrame, type UserMsgFrame } from "../../src/client/index.ts";
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
  const seen = { messages: [] as UserMsgFrame[], settings: [] as SettingsChangedFrame[] };
  client.on("message", (m) => seen.messages.push(m));
  client.on("settings", (s) => seen.settings.push(s));
  client.connect();
  return { client, seen };
}

describe("safety through the client library", () => {
  it("block, report, mute and archive between two users", async () => {
    const [annId, bobId] = [uniqueUser("ann"), uniqueUser("bob")];
    const ann = start(annId);
    const annsPhone = start(annId);
    const bob = start(bobId);
    const rude = await bob.client.send(annId, "buy my stuff").acked;
    await until("ann has it", () => ann.seen.messages.length === 1);

    const reportId = await ann.client.report({ conversation: bobId, messages: [rude.serverId], reason: "spam", note: "ads" });
    const listed = (await (
      await fetch(`${server.url}/v1/admin/reports?status=open&limit=200`, { headers: { Authorization: `Bearer ${DEV_API_KEY}` } })
    ).json()) as { reports: { id: string; evidence: { id: string }[] }[] };
    expect(listed.reports.find((r) => r.id === reportId)?.evidence.map((f) => f.id)).toEqual([rude.serverId]);

    await ann.client.block(bobId);
    expect(await ann.client.blocks()).toEqual([{ user: bobId, since: expect.any(String) }]);
    await until("ann's phone heard of the block", () => annsPhone.seen.settings.length === 1);
    expect(annsPhone.seen.settings[0]!.message).toEqual({ block: { user: bobId, on: true } });
    await bob.client.send(annId, "are you there?").acked;
    await new Promise((r) => setTimeout(r, 500));
    expect(ann.seen.messages.map((m) => m.message)).toEqual(["buy my stuff"]);
    await ann.client.unblock(bobId);
    expect(await ann.client.blocks()).toEqual([]);

    const muted = await ann.client.updateConversation(bobId, { mutedUntil: "9999-12-31T23:59:59Z", archived: true });
    expect(muted).toMatchObject({ id: bobId, mutedUntil: "9999-12-31T23:59:59Z", archived: true, pinned: false });
    expect((await ann.client.conversations()).conversations.map((c) => c.id)).toEqual([]);
    expect((await ann.client.conversations({ archived: true })).conversations.map((c) => c.id)).toEqual([bobId]);
    await until("ann's phone heard of the mute", () => annsPhone.seen.settings.length === 3);
    await expect(ann.client.updateConversation(uniqueUser("nobody"), { pinned: true })).rejects.toBeInstanceOf(ApiError);
  });
});
