/**
 * Retention and the conversation index (PROTOCOL.md, Conversations and
 * history), with LOG_MAX_ROWS=5 from the worker-limits project: a
 * conversation stays listed when its frames age out, and an aged-out unread
 * message stops counting. RETENTION_DAYS=0 and LOG_MAX_ROWS=0 keep forever.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readConfig } from "../../src/config.ts";
import { UserObject } from "../../src/user/object.ts";
import { Client, type Frame, tokenFor, uniqueUser } from "../worker/helpers.ts";

async function list(user: string): Promise<Frame> {
  const res = await exports.default.fetch("http://edge.test/v1/conversations", {
    headers: { Authorization: `Bearer ${await tokenFor(user)}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Frame;
}

describe("conversations and retention", () => {
  it("keeps a conversation listed after its frames age out, and stops counting them as unread", async () => {
    const bob = await Client.connect(uniqueUser("bob"));
    const early = await Client.connect(uniqueUser("early"));
    await early.message(bob.user, "soon gone");
    const chatty = await Client.connect(uniqueUser("chatty"));
    for (let i = 0; i < 5; i++) await chatty.message(bob.user, i);
    await bob.expectAll({ type: "USER_MSG" }, 6);
    const body = await list(bob.user);
    expect(body.conversations).toEqual([
      expect.objectContaining({ id: chatty.user, lastSeq: 6, unread: 5 }),
      expect.objectContaining({ id: early.user, lastSeq: 1, last: null, unread: 0 }),
    ]);
    expect(body.unread).toBe(5);
  });

  it("keeps everything with RETENTION_DAYS=0 and LOG_MAX_ROWS=0: no cap, no pruning, no retention alarm", async () => {
    expect(readConfig({ RETENTION_DAYS: "0", LOG_MAX_ROWS: "0" })).toMatchObject({
      retentionMs: Number.POSITIVE_INFINITY,
      logMaxRows: Number.POSITIVE_INFINITY,
    });
    const user = uniqueUser("forever");
    const left = await runInDurableObject(env.USERS.getByName(user), async (_o, state) => {
      // The same object with the keep-forever settings.
      const forever = new UserObject(state, { ...env, RETENTION_DAYS: "0", LOG_MAX_ROWS: "0" });
      const envelope = (i: number) => ({ id: `m${i}`, sender: "old-friend", recipient: user, type: "USER_MSG" as const, frame: "{}" });
      await forever.deliver(Array.from({ length: 20 }, (_, i) => envelope(i)));
      state.storage.sql.exec("UPDATE log SET created = created - ?", 400 * 86_400_000);
      await forever.alarm();
      return {
        rows: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM log").one().n,
        alarm: await state.storage.getAlarm(),
      };
    });
    // The pool's own settings (LOG_MAX_ROWS=5) would have kept 5 of them.
    expect(left).toEqual({ rows: 20, alarm: null });
  });
});
