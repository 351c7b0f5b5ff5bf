/**
 * Ephemeral frames in a group over 100 members (PROTOCOL.md, Large groups):
 * a typist's TYPING true reaches the others at most once per 3 s (and its
 * false once, after a true went), and a sender gets at most one live
 * receipt per member per second, the newest, the rest coalesced into it; a
 * group of 100 forwards each as before. Timing here is the protocol's
 * windows, not speed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { typingText } from "../../src/protocol/build.ts";
import { Client, createGroup, type Frame, uniqueUser } from "./helpers.ts";

async function groupOf(size: number, prefix: string): Promise<{ id: string; typist: Client; watcher: Client }> {
  const [typist, watcher] = await Promise.all([
    Client.connect(uniqueUser(`${prefix}-typist`)),
    Client.connect(uniqueUser(`${prefix}-watcher`)),
  ]);
  const rest = Array.from({ length: size - 2 }, (_, i) => uniqueUser(`${prefix}${i}`));
  const id = await createGroup(typist.user, [watcher.user, ...rest]);
  await typist.expect({ content: "GROUP_EVENT" }, 30_000);
  await watcher.expect({ content: "GROUP_EVENT" }, 30_000);
  return { id, typist, watcher };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("groups over 100 members", () => {
  it("forward a typist's TYPING true at most once per 3 s, and its false once", async () => {
    const { id, typist, watcher } = await groupOf(101, "big");
    // Straight to the group object (the typist's own object passes one true per second, and a loaded
    // machine can bunch a client's frames up): five trues at once are one, and three seconds later one more.
    const group = env.GROUPS.getByName(id);
    for (let i = 0; i < 5; i++) await group.typing(typist.user, typingText(typist.user, id, true, Date.now()), true);
    expect((await watcher.expect({ content: "TYPING" })).message).toBe(true);
    await watcher.expectNothingMore(300);
    await pause(3100);
    await group.typing(typist.user, typingText(typist.user, id, true, Date.now()), true);
    await group.typing(typist.user, typingText(typist.user, id, false, Date.now()), false);
    await group.typing(typist.user, typingText(typist.user, id, false, Date.now()), false);
    expect((await watcher.expectAll({ content: "TYPING" }, 2)).map((f) => f.message)).toEqual([true, false]);
    await watcher.expectNothingMore(300);
  }, 120_000);

  it("coalesce a member's live receipts to a sender into one per second, the newest", async () => {
    const { id, typist: sender, watcher: reader } = await groupOf(101, "rcpt");
    const acks: Frame[] = [];
    for (let i = 0; i < 4; i++) acks.push(await sender.message(id, `m${i}`));
    for (const ack of acks) await reader.expect({ id: ack.message });
    for (const ack of acks) reader.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    const live = await sender.expectAll({ type: "ACK_MSG", content: "MESSAGE_READ" }, 2, 10_000);
    // The first went at once; the other three became one: the newest, a second later.
    expect(live.map((f) => f.message)).toEqual([acks[0]!.message, acks[3]!.message]);
    await sender.expectNothingMore(1500);
  }, 120_000);

  it("a group of 100 forwards every TYPING and every receipt as before", async () => {
    const { id, typist, watcher } = await groupOf(100, "small");
    const group = env.GROUPS.getByName(id);
    for (let i = 0; i < 3; i++) await group.typing(typist.user, typingText(typist.user, id, true, Date.now()), true);
    expect((await watcher.expectAll({ content: "TYPING" }, 3)).map((f) => f.message)).toEqual([true, true, true]);
    const acks = [await typist.message(id, "a"), await typist.message(id, "b")];
    for (const ack of acks) await watcher.expect({ id: ack.message });
    for (const ack of acks) watcher.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: ack.message });
    expect((await typist.expectAll({ type: "ACK_MSG", content: "MESSAGE_READ" }, 2)).map((f) => f.message)).toEqual(
      acks.map((a) => a.message),
    );
  }, 120_000);
});
