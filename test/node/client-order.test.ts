/**
 * Order under fast sending (issue 20; PROTOCOL.md, Errors: Order under
 * refusal): the client library sends 200 messages at 50 a second, with a
 * typing frame before each, against a server that allows 20 frames a second
 * (RATE_LIMIT_BURST=20 here, so the pacing shows within 200 messages).
 * Meanwhile the sender's other device spends the same user's bucket, so
 * refusals do happen. Both sides must store and show every message once, in
 * the typed order, and the client may resend at most once per refusal.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type HistoryFrame, LunarLoomClient, type UserMsgFrame, type WebSocketConstructor } from "../../src/client/index.ts";
import { type DevServer, startDevServer } from "./devserver.ts";

let server: DevServer;

beforeAll(async () => {
  server = await startDevServer({ vars: { RATE_LIMIT_PER_SECOND: "20", RATE_LIMIT_BURST: "20" } });
});

afterAll(async () => {
  await server?.stop();
});

const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function devToken(user: string): Promise<string> {
  const res = await fetch(`${server.url}/dev/token?user=${encodeURIComponent(user)}`);
  return ((await res.json()) as { token: string }).token;
}

async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** Node's WebSocket, counting every USER_MSG written by client id. */
function countingWebSocket(writes: Map<string, number>): WebSocketConstructor {
  return class extends WebSocket {
    override send(data: string): void {
      const frame = JSON.parse(data === "ping" ? "null" : data) as { type?: string; id?: string } | null;
      if (frame?.type === "USER_MSG") writes.set(frame.id!, (writes.get(frame.id!) ?? 0) + 1);
      super.send(data);
    }
  };
}

/** A conversation's whole retained history, oldest first. */
async function history(client: LunarLoomClient, conversation: string): Promise<HistoryFrame[]> {
  const out: HistoryFrame[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await client.history(conversation, { limit: 100, before });
    out.unshift(...page.messages);
    if (page.next === null) return out;
    before = page.next;
  }
}

it("200 messages typed at 50/s against 20/s: stored and shown once each, in typed order, at most one resend per refusal", async () => {
  const [alice, bob] = [unique("alice"), unique("bob")];
  const writes = new Map<string, number>();
  const sender = new LunarLoomClient({ url: server.url, token: () => devToken(alice), WebSocket: countingWebSocket(writes) });
  const reader = new LunarLoomClient({ url: server.url, token: () => devToken(bob) });
  const refusals: string[] = [];
  sender.on("error", (e) => e.code === "RATE_LIMITED" && e.ref !== undefined && writes.has(e.ref) && refusals.push(e.ref));
  const shown: UserMsgFrame[] = [];
  reader.on("message", (m) => shown.push(m));
  const open = (c: LunarLoomClient) => new Promise<void>((resolve) => c.on("synced", () => resolve()));
  const ready = [open(sender), open(reader)];
  sender.connect();
  reader.connect();
  await Promise.all(ready);

  // Alice's phone, typing in another chat: it spends the same per-user bucket, ~8 frames a second.
  const phone = new WebSocket(`${server.wsUrl}/ws?Authentication=${await devToken(alice)}`);
  await new Promise((r) => phone.addEventListener("open", r));
  const typing = setInterval(
    () => phone.send(JSON.stringify({ id: crypto.randomUUID(), type: "EVENT_MSG", content: "TYPING", to: bob, message: true })),
    125,
  );

  const typed = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, "0")}`);
  const started = Date.now();
  const sends = [];
  for (const text of typed) {
    sender.typing(bob, true);
    sends.push(sender.send(bob, text));
    await sleep(20);
  }
  const acks = await Promise.all(sends.map((s) => s.acked));
  const elapsed = Date.now() - started;
  clearInterval(typing);
  phone.close();

  // The acks came in typed order: the server stored them in it.
  expect(acks.map((a) => a.clientId)).toEqual(sends.map((s) => s.id));
  // Every message written once, and again only after a refusal of it.
  expect([...writes.keys()].sort()).toEqual(sends.map((s) => s.id).sort());
  const resends = [...writes.values()].reduce((n, w) => n + w - 1, 0);
  expect(refusals.length).toBeGreaterThan(0);
  expect(resends).toBeLessThanOrEqual(refusals.length);

  await until("bob has all 200", () => shown.length >= 200);
  await sleep(200);
  expect(shown.map((m) => m.message)).toEqual(typed);
  expect((await history(sender, bob)).map((m) => m.message)).toEqual(typed);
  expect((await history(reader, alice)).map((m) => m.message)).toEqual(typed);
  console.log(`order e2e: 200 messages in ${elapsed} ms, ${refusals.length} refusals, ${resends} resends`);
  sender.close();
  reader.close();
});
