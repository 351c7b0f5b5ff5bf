/**
 * A large group's fan-out tree across a crash of a real `wrangler dev
 * --persist-to <dir>` (DESIGN.md invariants 1-3 through shards): with
 * GROUP_SHARD_SIZE=3, a 13-member group fans out through 5 shard objects;
 * one member pipelines messages and the whole server is SIGKILLed while the
 * fan-out is under way (a watching member has some of them, not all). After
 * the restart every member gets every acked message exactly once, in ack
 * order: what the group had not pushed, what a shard had not delivered, and
 * what a member's object had not taken are all in persisted rows that the
 * alarms deliver. Does not prove production behaviour or speed.
 */
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { type DevServer, startDevServer } from "./devserver.ts";
import { devToken, type Frame, uniqueUser, WsClient } from "./wsclient.ts";

const persistTo = mkdtempSync(join(tmpdir(), "lunarloom-shard-restart-"));
/** The safety nets (sender's outbox, group's and shards' fan-out) fire 10 s after their commits, and chain. */
const DELIVERY_TIMEOUT_MS = 90_000;
const PAD = "x".repeat(8_000);
let server: DevServer | null = null;
let starting: Promise<DevServer> | null = null;
const sockets: WsClient[] = [];

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.stop();
});

async function connect(user: string, since?: number): Promise<WsClient> {
  starting ??= startDevServer({ persistTo, startTimeoutMs: 60_000, vars: { GROUP_SHARD_SIZE: "3" } });
  server = await starting;
  const c = await WsClient.connect(server, user, since === undefined ? {} : { since });
  sockets.push(c);
  return c;
}

async function sigkill(): Promise<void> {
  const s = server!;
  server = null;
  starting = null;
  const exited = once(s.process, "exit");
  process.kill(-s.process.pid!, "SIGKILL");
  await exited;
}

test("a SIGKILL in the middle of a fan-out through shards: every member gets every acked message once, in order", {
  timeout: 240_000,
}, async () => {
  const sender = uniqueUser("sender");
  const watcher = uniqueUser("watcher");
  const offline = Array.from({ length: 11 }, (_, i) => uniqueUser(`off${i}`));
  const s = await connect(sender);
  const w = await connect(watcher);
  const res = await fetch(`${server!.url}/v1/groups`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await devToken(server!, sender)}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Crash through shards", members: [watcher, ...offline] }),
  });
  expect(res.status).toBe(201);
  const group = ((await res.json()) as { id: string }).id;
  await w.expect({ content: "GROUP_EVENT" }, 20_000);

  const N = 100;
  for (let n = 0; n < N; n++) s.sendMessage(`g${n}`, group, { n, pad: PAD });
  // Mid fan-out: the watcher has a few of them, so shards are delivering.
  await w.expectAll({ type: "USER_MSG", to: group }, 5, 60_000);
  await sigkill();
  // Every frame the sockets were sent before the crash has been read once they report the close.
  await Promise.all([s.closing(), w.closing()]);
  const acked = s.frames.filter((f) => f.content === "MESSAGE_RECEIVED");
  expect(acked.length).toBeGreaterThanOrEqual(5);
  const ackedIds = acked.map((f) => f.message as string);
  const messages = (c: WsClient) => c.frames.filter((f) => f.type === "USER_MSG" && f.to === group);
  // What the watcher's socket had when the server died: more than the 5 waited for when a batch brought them together.
  const seen = new Set(messages(w).map((f) => f.id as string));

  // The watcher resumes after the last frame it saw; the others were never connected (offline queue).
  const lastSeen = w.frames.filter((f) => f.seq !== undefined).at(-1)!.seq as number;
  const check = (frames: Frame[], who: string) => {
    const ids = frames.map((f) => f.id as string);
    expect(new Set(ids).size, `${who}: a message twice`).toBe(ids.length);
    // Every acked message, in ack order (one sender on one socket); unacked ones may follow them, in order too.
    expect(ids.slice(0, ackedIds.length), who).toEqual(ackedIds);
    const ns = frames.map((f) => (f.message as { n: number }).n);
    expect(ns, who).toEqual([...ns].sort((x, y) => x - y));
  };
  const resumed = await connect(watcher, lastSeen);
  const others = await Promise.all(offline.map((user) => connect(user)));
  // Wait for every acked message, then let anything still owed arrive (a duplicate would show now).
  const owed = ackedIds.filter((id) => !seen.has(id)).length;
  await resumed.expectAll({ type: "USER_MSG", to: group }, owed, DELIVERY_TIMEOUT_MS);
  for (const c of others) await c.expectAll({ type: "USER_MSG", to: group }, ackedIds.length, DELIVERY_TIMEOUT_MS);
  await new Promise((r) => setTimeout(r, 12_000));
  check([...messages(w), ...messages(resumed)], watcher);
  for (const c of others) check(messages(c), c.user);
});
