/**
 * Webhooks end to end (PROTOCOL.md, Webhooks): a real `wrangler dev` with its
 * local Cloudflare Queues (producer, consumer, dead-letter queue), and a Node
 * HTTP receiver on loopback standing in for the app's backend. Proves: an
 * offline message produces exactly one event, verified as a receiver would
 * (HMAC-SHA256 over "<t>.<raw body>"); an online recipient produces none; a
 * 500 is retried with the same event id; a receiver that always fails ends
 * in the dead-letter queue, logged with the event id; a hanging receiver
 * never holds up delivery. The queue's retry count is lowered to 1 for the
 * run (a copy of wrangler.toml), so the dead letter comes in seconds.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, freePort, ROOT, startDevServer } from "./devserver.ts";
import { uniqueUser, WsClient } from "./wsclient.ts";

const SECRET = "whsec-e2e";

interface Received {
  eventId: string;
  signature: string;
  body: string;
  at: number;
}

/** What the receiver answers, per recipient user in the event: "ok", "fail" (500) or "hang"; `fail-once` then ok. */
const behaviour = new Map<string, "ok" | "fail" | "fail-once" | "hang">();
const received: Received[] = [];
let receiver: Server;
let server: DevServer;
const sockets: WsClient[] = [];

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => resolve(body));
  });
}

/** The project's wrangler.toml with the webhook queue's retries lowered, and paths made absolute so it can live elsewhere. */
function testConfig(): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = "src\/index.ts"/m, `main = "${join(ROOT, "src/index.ts")}"`)
    .replace(/^directory = "\.\/src\/public"/m, `directory = "${join(ROOT, "src/public")}"`)
    .replace(/^max_retries = \d+/m, "max_retries = 1");
  const file = join(mkdtempSync(join(tmpdir(), "lunarloom-webhooks-")), "wrangler.toml");
  writeFileSync(file, toml);
  return file;
}

beforeAll(async () => {
  const port = await freePort();
  receiver = createServer(async (req, res) => {
    const body = await read(req);
    received.push({
      eventId: String(req.headers["x-lunarloom-event-id"]),
      signature: String(req.headers["x-lunarloom-signature"]),
      body,
      at: Date.now(),
    });
    const user = (JSON.parse(body) as { user: string }).user;
    const how = behaviour.get(user) ?? "ok";
    if (how === "hang") return;
    if (how === "fail-once") behaviour.set(user, "ok");
    res.writeHead(how === "fail" || how === "fail-once" ? 500 : 200).end();
  });
  await new Promise<void>((r) => receiver.listen(port, "127.0.0.1", r));
  server = await startDevServer({
    config: testConfig(),
    vars: { WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`, WEBHOOK_SECRET: SECRET },
  });
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.stop();
  receiver?.closeAllConnections();
  receiver?.close();
});

async function connect(user: string): Promise<WsClient> {
  const c = await WsClient.connect(server, user);
  sockets.push(c);
  return c;
}

const eventsFor = (user: string) => received.filter((r) => (JSON.parse(r.body) as { user: string }).user === user);

async function until(what: string, done: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("webhooks through the queue", () => {
  it("sends exactly one verified message.offline event for a message to a user with no open socket", async () => {
    const [alice, bob] = [await connect(uniqueUser("alice")), uniqueUser("bob")];
    alice.sendMessage("w-1", bob, { secret: "e2e ciphertext" });
    const ack = await alice.expect({ id: "w-1" });
    await until("the event", () => eventsFor(bob).length === 1);
    const [event] = eventsFor(bob);
    const body = JSON.parse(event!.body);
    expect(body).toEqual({
      id: event!.eventId,
      type: "message.offline",
      time: expect.any(String),
      user: bob,
      conversation: alice.user,
      from: alice.user,
      messageId: ack.message,
      content: "TEXT_MESSAGE",
    });
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(event!.signature)!;
    expect(createHmac("sha256", SECRET).update(`${t}.${event!.body}`).digest("hex")).toBe(v1);
    expect(Math.abs(Number(t) * 1000 - event!.at)).toBeLessThan(300_000);
    // Exactly one: nothing else comes for it.
    await new Promise((r) => setTimeout(r, 3000));
    expect(eventsFor(bob)).toHaveLength(1);
  });

  it("sends nothing for a user with an open socket", async () => {
    const [alice, carol] = [await connect(uniqueUser("alice")), await connect(uniqueUser("carol"))];
    alice.sendMessage("w-2", carol.user, "you are here");
    await carol.expect({ type: "USER_MSG" });
    await new Promise((r) => setTimeout(r, 2000));
    expect(eventsFor(carol.user)).toEqual([]);
  });

  it("retries a 500 with the same event id", async () => {
    const [alice, dave] = [await connect(uniqueUser("alice")), uniqueUser("dave")];
    behaviour.set(dave, "fail-once");
    alice.sendMessage("w-3", dave, "retry me");
    await until("the retry", () => eventsFor(dave).length === 2);
    const [first, second] = eventsFor(dave);
    expect(second!.eventId).toBe(first!.eventId);
    expect(second!.body).toBe(first!.body);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1500);
  });

  it("puts an event whose receiver always fails in the dead-letter queue, logged with its event id", async () => {
    const [alice, erin] = [await connect(uniqueUser("alice")), uniqueUser("erin")];
    behaviour.set(erin, "fail");
    alice.sendMessage("w-4", erin, "nobody home");
    await until("both attempts", () => eventsFor(erin).length === 2);
    const id = eventsFor(erin)[0]!.eventId;
    await until("the dead letter", () => server.output().includes(`"event":"webhook_dead_letter","eventId":"${id}"`));
  });

  it("never holds up delivery while the receiver hangs", async () => {
    const [alice, frank] = [await connect(uniqueUser("alice")), uniqueUser("frank")];
    behaviour.set(frank, "hang");
    alice.sendMessage("w-5", frank, "1");
    await until("the hanging request", () => eventsFor(frank).length === 1);
    const t0 = Date.now();
    alice.sendMessage("w-6", frank, "2");
    await alice.expect({ id: "w-6" });
    const f = await connect(frank);
    expect((await f.take(2, 5000)).map((m) => m.message)).toEqual(["1", "2"]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
