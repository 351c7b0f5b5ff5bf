/**
 * The token goes no further than the Worker: not into the object's storage,
 * not into socket attachments, not into logs; and logs are JSON lines with
 * user, connection id and error code. Uses real objects and the real console.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it, vi } from "vitest";
import { Client, tokenFor, uniqueUser, upgrade } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

it("keeps the token out of storage, attachments and logs, and logs JSON lines", async () => {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error", "info"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
  const user = uniqueUser("secretive");
  const token = await tokenFor(user);
  const peer = await Client.connect(uniqueUser("peer"));
  const viaQuery = await upgrade(`?Authentication=${token}`);
  const viaHeader = await upgrade("", { Authorization: `Bearer ${token}` });
  const [a, b] = [await Client.adopt(user, viaQuery.webSocket!), await Client.adopt(user, viaHeader.webSocket!)];
  const ack = await a.message(peer.user, "hello");
  await peer.next();
  a.send("{broken");
  expect((await a.next()).message.code).toBe("BAD_JSON");
  b.close();

  const stored = await runInDurableObject(env.USERS.getByName(user), (_o, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray();
    const rows = tables.flatMap(({ name }) => state.storage.sql.exec(`SELECT * FROM "${name}"`).toArray());
    const attachments = state.getWebSockets().map((ws) => ws.deserializeAttachment());
    return JSON.stringify({ rows, attachments });
  });
  expect(stored).toContain(ack.message); // the dump is real: it holds the message
  expect(stored).toContain(user);
  expect(stored).not.toContain(token);
  expect(stored).not.toContain(token.split(".")[2]); // not even the signature

  const ours = lines.filter((l) => l.startsWith("{"));
  expect(ours.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).not.toContain(token.split(".")[2]);
  const events = ours.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(events).toContainEqual(
    expect.objectContaining({ event: "frame_refused", user, connectionId: expect.any(String), code: "BAD_JSON" }),
  );
});
