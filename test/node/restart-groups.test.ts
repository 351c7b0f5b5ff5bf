/**
 * Group messages across a crash of a real `wrangler dev --persist-to <dir>`
 * (DESIGN.md invariants 1-3 for groups): the sender pipelines messages to a
 * group whose other members are offline, the whole server is SIGKILLed the
 * moment the last ack arrives (acked, but not yet fanned out: they may sit in
 * the sender's outbox or in the group's log), and after the restart every
 * member gets each message exactly once, all in the one group order, each
 * sender's in ack order. Only the persisted outboxes and alarms can have
 * delivered what was still owed. Does not prove production behaviour or speed.
 */
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { type DevServer, startDevServer } from "./devserver.ts";
import { devToken, type Frame, uniqueUser, WsClient } from "./wsclient.ts";

const persistTo = mkdtempSync(join(tmpdir(), "lunarloom-group-restart-"));
/** Both safety nets (sender's outbox, group's fan-out) fire 10 s after their commits. */
const DELIVERY_TIMEOUT_MS = 40_000;
const PAD = "x".repeat(16_000);
let server: DevServer | null = null;
/** The running (or starting) server: concurrent connects after the restart must share one, not each start their own on the same state. */
let starting: Promise<DevServer> | null = null;
const sockets: WsClient[] = [];

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.stop();
});

async function connect(user: string, since?: number): Promise<WsClient> {
  starting ??= startDevServer({ persistTo, startTimeoutMs: 60_000 });
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
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-s.process.pid!, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a SIGKILL right after the acks loses no group message: every member gets each once, in one order", { timeout: 180_000 }, async () => {
  const [alice, bob, carol] = [uniqueUser("alice"), uniqueUser("bob"), uniqueUser("carol")];
  const a = await connect(alice);
  const res = await fetch(`${server!.url}/v1/groups`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await devToken(server!, alice)}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Crash test", members: [bob, carol] }),
  });
  expect(res.status).toBe(201);
  const group = ((await res.json()) as { id: string }).id;
  await a.expect({ content: "GROUP_EVENT" }, 20_000);

  const N = 120;
  for (let n = 0; n < N; n++) a.sendMessage(`g${n}`, group, { n, pad: PAD });
  const acks = await a.expectAll({ content: "MESSAGE_RECEIVED" }, N, 60_000);
  await sigkill();
  expect(acks.map((f) => f.id)).toEqual(Array.from({ length: N }, (_, n) => `g${n}`));
  const ids = acks.map((f) => f.message as string);

  // Bob and Carol connect only now: they get the group's created event, then every message.
  const got = async (user: string): Promise<Frame[]> => {
    const c = await connect(user);
    return c.expectAll({ type: "USER_MSG", to: group }, N, DELIVERY_TIMEOUT_MS);
  };
  const [forBob, forCarol] = await Promise.all([got(bob), got(carol)]);
  for (const frames of [forBob, forCarol]) {
    expect(frames.map((f) => f.id)).toEqual(ids);
    const seqs = frames.map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  }
  // Alice's own log has them in the same order, and nobody got anything twice.
  const replay = await connect(alice, 0);
  const own = await replay.expectAll({ type: "USER_MSG", to: group }, N, DELIVERY_TIMEOUT_MS);
  expect(own.map((f) => f.id)).toEqual(ids);
  await new Promise((r) => setTimeout(r, 11_000));
  for (const c of sockets.slice(-3)) expect(c.frames.filter((f) => f.type === "USER_MSG").length).toBe(N);
});
