/**
 * A FILE_MESSAGE by reference (PROTOCOL.md, Files): the message names an
 * uploaded file, `{"file","name","type","size"}`, and rides the message path
 * unchanged. Deleting it for everyone deletes the file when it is the
 * message sender's own upload to that same conversation (direct, group, and
 * a group admin's delete of a member's message), and never a file someone
 * else uploaded, one of another conversation, or one a TEXT_MESSAGE names.
 * The bytes leave R2 from the sender's object's alarm, which the delete sets
 * to now.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Client, createGroup, expectRefused, type Frame, tokenFor, users } from "./helpers.ts";

async function upload(user: string, conversation: string, size = 64): Promise<{ file: string; name: string; type: string; size: number }> {
  const res = await exports.default.fetch(`http://edge.test/v1/files?conversation=${encodeURIComponent(conversation)}&name=cat.png`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await tokenFor(user)}`, "Content-Type": "image/png" },
    body: new Uint8Array(size),
  });
  expect(res.status).toBe(201);
  const { file, name, type } = (await res.json()) as { file: string; name: string; type: string };
  return { file, name, type, size };
}

async function send(c: Client, to: string, content: string, message: unknown): Promise<string> {
  const id = crypto.randomUUID();
  c.send({ id, to, type: "USER_MSG", content, message });
  return (await c.ack(id)).message as string;
}

async function deleteForEveryone(c: Client, to: string, ref: string): Promise<void> {
  const id = crypto.randomUUID();
  c.send({ id, to, type: "USER_MSG", content: "MESSAGE_DELETE", ref });
  await c.ack(id);
}

/** After a direct delete (applied in the sender's commit before its ack): runs the sender's alarm, which would remove a doomed file. */
async function stillStored(sender: string, file: string): Promise<boolean> {
  await runDurableObjectAlarm(env.USERS.getByName(sender));
  return (await env.FILES.head(file)) !== null;
}

/** The file leaves R2 once the delete reached the sender's object (in a group, through the group) and its alarm ran. */
async function gone(sender: string, file: string): Promise<void> {
  await expect
    .poll(async () => {
      await runDurableObjectAlarm(env.USERS.getByName(sender));
      return env.FILES.head(file);
    })
    .toBeNull();
}

describe("FILE_MESSAGE by reference", () => {
  it("reaches the peer as sent, and the peer downloads the file it names", async () => {
    const [rick, morty] = await users("rick", "morty");
    const ref = await upload(rick.user, morty.user);
    await send(rick, morty.user, "FILE_MESSAGE", ref);
    const got = await morty.expect({ content: "FILE_MESSAGE" });
    expect(got.message).toEqual(ref);
    const res = await exports.default.fetch(`http://edge.test/v1/files/${(got.message as Frame).file}`, {
      headers: { Authorization: `Bearer ${await tokenFor(morty.user)}` },
    });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(ref.size);
  });

  it("deleted for everyone in a direct conversation, it takes the sender's own upload with it", async () => {
    const [rick, morty] = await users("rick", "morty");
    const ref = await upload(rick.user, morty.user);
    const message = await send(rick, morty.user, "FILE_MESSAGE", ref);
    await deleteForEveryone(rick, morty.user, message);
    await gone(rick.user, ref.file);
    const res = await exports.default.fetch(`http://edge.test/v1/files/${ref.file}`, {
      headers: { Authorization: `Bearer ${await tokenFor(morty.user)}` },
    });
    await expectRefused(res, 404, "not_found");
  });

  it("never deletes a file someone else uploaded, one of another conversation, or one a TEXT_MESSAGE names", async () => {
    const [rick, morty, summer] = await users("rick", "morty", "summer");
    const mortys = await upload(morty.user, rick.user);
    const toSummer = await upload(rick.user, summer.user);
    const named = await upload(rick.user, morty.user);
    const messages = [
      await send(rick, morty.user, "FILE_MESSAGE", mortys),
      await send(rick, morty.user, "FILE_MESSAGE", toSummer),
      await send(rick, morty.user, "TEXT_MESSAGE", named),
    ];
    for (const m of messages) await deleteForEveryone(rick, morty.user, m);
    for (const [uploader, ref] of [
      [morty.user, mortys],
      [rick.user, toSummer],
      [rick.user, named],
    ] as const) {
      expect(await stillStored(uploader, ref.file)).toBe(true);
    }
  });

  it("in a group: the sender's delete and an admin's delete of a member's message both take the sender's upload", async () => {
    const [john, rick, morty] = await users("john", "rick", "morty");
    const group = await createGroup(john.user, [rick.user, morty.user]);
    for (const c of [john, rick, morty]) await c.expect({ content: "GROUP_EVENT" });
    const own = await upload(rick.user, group);
    const byAdmin = await upload(morty.user, group);
    const first = await send(rick, group, "FILE_MESSAGE", own);
    const second = await send(morty, group, "FILE_MESSAGE", byAdmin);
    // In the group's order: every member's log (the senders' too) holds both before they are deleted.
    for (const c of [john, rick, morty]) await c.expectAll({ content: "FILE_MESSAGE" }, c === john ? 2 : 1);
    await deleteForEveryone(rick, group, first);
    await deleteForEveryone(john, group, second);
    await gone(rick.user, own.file);
    await gone(morty.user, byAdmin.file);
  });
});
