/**
 * The client library against the real Worker and Durable Objects under
 * `wrangler dev`, with a TCP proxy in front that fails the way networks do:
 * refusing connections, throwing away bytes in flight, going silent without
 * closing. Proves: acks and the client→server id mapping, receipts, offline
 * sends going out exactly once, lost acks and lost frames recovered by resend
 * and resume, dead-socket detection, final refusals, a burst paced under the
 * rate limit (refusals and resends: client-order.test.ts), and conversations, history and unread counts over HTTP
 * across two devices of one user. Groups: created over HTTP, messages to
 * every member in one order, live receipts, events, a removed member left
 * out and refused, a member leaving. Typing to a user and to a group, and
 * presence going offline and online, re-watched after a reconnect (the 6 s
 * expiry of a typist who vanished: client-ephemeral.test.ts and the browser
 * test). Then the package as another project gets it: `npm pack`
 * (which builds dist/ with tsc), unpacked into a scratch directory's
 * node_modules, imported by plain Node 22 and type-checked by a consumer's
 * tsc. Does not cover browsers (browser.test.ts does).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiError,
  type ClientOptions,
  type GroupEventFrame,
  LunarLoomClient,
  type PresenceChange,
  type ReceiptFrame,
  SendError,
  type TypingChange,
  type UnreadChange,
  type UserMsgFrame,
} from "../../src/client/index.ts";
import { type DevServer, ROOT, startDevServer } from "./devserver.ts";

const run = promisify(execFile);

/** A TCP proxy to the dev server whose faults the test switches on and off. */
interface NetProxy {
  url: string;
  /** New connections are reset at once (the network is down). */
  refuse: boolean;
  /** Server→client bytes on current connections are thrown away, as a dying link loses them. */
  dropDownstream: boolean;
  /** Everything thrown away so far, as text: server frames are unmasked, so their JSON shows. */
  dropped: string;
  /** Current connections go silent both ways but stay open (a sleeping laptop, a dead NAT entry). */
  blackhole(): void;
  /** Resets every current connection. */
  cut(): void;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<NetProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; silent: boolean }>();
  const proxy: NetProxy = {
    url: "",
    refuse: false,
    dropDownstream: false,
    dropped: "",
    blackhole() {
      for (const pair of pairs) pair.silent = true;
    },
    cut() {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((client) => {
    if (proxy.refuse) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(targetPort, "127.0.0.1");
    const pair = { client, upstream, silent: false };
    pairs.add(pair);
    let handshake = true;
    client.on("data", (d) => {
      if (handshake) {
        // No permessage-deflate, so frames thrown away can be recognized by their text.
        d = Buffer.from(d.toString("latin1").replace(/\r\nSec-WebSocket-Extensions:[^\r]*/i, ""), "latin1");
        handshake = false;
      }
      if (!pair.silent) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (pair.silent || proxy.dropDownstream) proxy.dropped += d.toString("latin1");
      else client.write(d);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return proxy;
}

let server: DevServer;
let proxy: NetProxy;

beforeAll(async () => {
  server = await startDevServer();
  proxy = await startProxy(server.port);
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

const clients: LunarLoomClient[] = [];
const unique = (name: string) => `${name}-${crypto.randomUUID().slice(0, 8)}`;

async function devToken(user: string): Promise<string> {
  const res = await fetch(`${server.url}/dev/token?user=${encodeURIComponent(user)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** A started client and everything it has reported. */
function start(user: string, opts: Partial<ClientOptions> & { viaProxy?: boolean } = {}) {
  const client = new LunarLoomClient({
    url: opts.viaProxy ? proxy.url : server.url,
    token: () => devToken(user),
    backoff: { baseMs: 50, capMs: 400 },
    ...opts,
  });
  clients.push(client);
  const seen = {
    messages: [] as UserMsgFrame[],
    receipts: [] as ReceiptFrame[],
    acks: [] as string[],
    errors: [] as string[],
    synced: 0,
    reasons: [] as string[],
    unread: [] as UnreadChange[],
    groupEvents: [] as GroupEventFrame[],
    typing: [] as TypingChange[],
    presence: [] as PresenceChange[],
  };
  client.on("message", (m) => seen.messages.push(m));
  client.on("receipt", (r) => seen.receipts.push(r));
  client.on("ack", (a) => seen.acks.push(a.serverId));
  client.on("error", (e) => seen.errors.push(e.code));
  client.on("synced", () => seen.synced++);
  client.on("state", (s) => s.status === "offline" && seen.reasons.push(s.reason));
  client.on("unread", (u) => seen.unread.push(u));
  client.on("groupEvent", (g) => seen.groupEvents.push(g));
  client.on("typing", (t) => seen.typing.push(t));
  client.on("presence", (p) => seen.presence.push(p));
  client.connect();
  return { client, seen, texts: () => seen.messages.map((m) => m.message) };
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterAll(() => {
  for (const c of clients) c.close();
});

describe("LunarLoomClient against the real Worker", () => {
  it("maps the client id to the server's id, and carries receipts back to the sender", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const alice = start(aliceName);
    const bob = start(bobName);
    await until("both are synced", () => alice.seen.synced > 0 && bob.seen.synced > 0);

    const out = alice.client.send(bobName, "Hello, world!", { id: "c-17" });
    const ack = await out.acked;
    expect(ack.clientId).toBe("c-17");
    expect(alice.client.serverId("c-17")).toBe(ack.serverId);

    await until("bob has the message", () => bob.seen.messages.length === 1);
    expect(bob.seen.messages[0]).toMatchObject({
      id: ack.serverId,
      from: aliceName,
      to: bobName,
      content: "TEXT_MESSAGE",
      message: "Hello, world!",
    });

    bob.client.markDelivered(ack.serverId);
    bob.client.markRead(ack.serverId);
    await until("alice has both receipts", () => alice.seen.receipts.length === 2);
    expect(alice.seen.receipts.map((r) => [r.content, r.message, r.from])).toEqual([
      ["MESSAGE_DELIVERED", ack.serverId, bobName],
      ["MESSAGE_READ", ack.serverId, bobName],
    ]);
  });

  it("sends what was written offline when the network returns, exactly once and in order", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const bob = start(bobName);
    await until("bob is synced", () => bob.seen.synced > 0);
    proxy.refuse = true;
    const alice = start(aliceName, { viaProxy: true, since: 0 });
    try {
      await until("alice failed to connect twice", () => alice.seen.reasons.length >= 2);
      for (const text of ["one", "two", "three"]) alice.client.send(bobName, text);
      expect(alice.client.pendingCount).toBe(3);
    } finally {
      proxy.refuse = false;
    }
    await until("alice's sends are acked", () => alice.client.pendingCount === 0);
    await alice.client.send(bobName, "end").acked;
    await until("bob has the last message", () => bob.texts().includes("end"));
    expect(bob.texts()).toEqual(["one", "two", "three", "end"]);
  });

  it("recovers a lost ack and a message lost in flight: the resend is deduped, the resume replays", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const alice = start(aliceName, { viaProxy: true, since: 0 });
    const bob = start(bobName);
    await until("both are synced", () => alice.seen.synced > 0 && bob.seen.synced > 0);

    proxy.dropDownstream = true;
    const out = alice.client.send(bobName, "m1");
    const lost = `lost-in-flight-${crypto.randomUUID()}`;
    try {
      await until("bob has m1", () => bob.texts().includes("m1"));
      await until("alice's ack was lost", () => proxy.dropped.includes(out.id));
      await bob.client.send(aliceName, lost).acked;
      await until("bob's message to alice was lost in flight", () => proxy.dropped.includes(lost));
      expect(alice.client.pendingCount).toBe(1);
      expect(alice.seen.messages).toEqual([]);
    } finally {
      proxy.dropDownstream = false;
      proxy.cut();
    }

    const ack = await out.acked;
    expect(ack.serverId).toBe(bob.seen.messages[0]!.id);
    await until("alice got the lost message back", () => alice.texts().includes(lost));
    await alice.client.send(bobName, "end-a").acked;
    await bob.client.send(aliceName, "end-b").acked;
    await until("both have the end markers", () => bob.texts().includes("end-a") && alice.texts().includes("end-b"));
    expect(bob.texts()).toEqual(["m1", "end-a"]);
    // The resume also replays alice's own copy of m1: the app matches it to the send by server id.
    expect(alice.seen.messages.map((m) => [m.from, m.message])).toEqual([
      [aliceName, "m1"],
      [bobName, lost],
      [bobName, "end-b"],
    ]);
    expect(alice.seen.messages[0]!.id).toBe(ack.serverId);
    // One ack event per send, even though m1 was acked twice on the wire.
    expect(alice.seen.acks).toEqual([ack.serverId, expect.any(String)]);
  });

  it("notices a connection that went silent, reconnects and catches up", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const alice = start(aliceName, { viaProxy: true, since: 0, heartbeat: { intervalMs: 300, timeoutMs: 800 } });
    const bob = start(bobName);
    await until("both are synced", () => alice.seen.synced > 0 && bob.seen.synced > 0);

    proxy.blackhole();
    await bob.client.send(aliceName, "while silent").acked;
    await until("alice gave up on the silent socket", () => alice.seen.reasons.includes("no answer to ping"));
    await until("alice is synced again", () => alice.seen.synced > 1);
    await bob.client.send(aliceName, "after").acked;
    await until("alice has the later message", () => alice.texts().includes("after"));
    expect(alice.texts()).toEqual(["while silent", "after"]);
  });

  it("rejects a message the server refuses for good, and the outbox moves on", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const alice = start(aliceName);
    const bob = start(bobName);
    await until("both are synced", () => alice.seen.synced > 0 && bob.seen.synced > 0);

    const refused = alice.client.send("x".repeat(129), "to nobody");
    await expect(refused.acked).rejects.toBeInstanceOf(SendError);
    await expect(refused.acked).rejects.toMatchObject({ code: "BAD_MESSAGE", clientId: refused.id });
    // Too large for the server's default limit: refused before it is sent.
    await expect(alice.client.send(bobName, "x".repeat(70 * 1024)).acked).rejects.toMatchObject({ code: "TOO_LARGE" });
    await alice.client.send(bobName, "small").acked;
    expect(alice.client.pendingCount).toBe(0);
    await until("bob has the small one", () => bob.texts().includes("small"));
    expect(bob.texts()).toEqual(["small"]);
    expect(alice.seen.errors).toEqual(["BAD_MESSAGE"]);
  });

  it("paces a burst past the rate limit: every message once, in the order sent, replayed whole to a new device", async () => {
    const [aliceName, carolName] = [unique("alice"), unique("carol")];
    const alice = start(aliceName);
    await until("alice is synced", () => alice.seen.synced > 0);

    // Over the default burst (200): the client paces the rest by the limits CONNECTION_ID announced, so none is refused.
    const sends = Array.from({ length: 240 }, (_, i) => alice.client.send(carolName, `n${i}`));
    const acks = await Promise.all(sends.map((s) => s.acked));
    expect(alice.seen.errors).toEqual([]);
    expect(acks.map((a) => a.clientId)).toEqual(sends.map((s) => s.id));
    expect(new Set(alice.seen.acks).size).toBe(240);

    // Carol was never online: a first connection with since=0 gets all of it, before `synced`.
    const carol = start(carolName, { since: 0 });
    let atSync = -1;
    carol.client.on("synced", () => {
      if (atSync < 0) atSync = carol.seen.messages.length;
    });
    await until("carol is synced", () => carol.seen.synced > 0);
    expect(atSync).toBe(240);
    // Per sender→recipient order is the ack order (PROTOCOL.md, Order).
    expect(carol.seen.messages.map((m) => m.id)).toEqual(alice.seen.acks);
    expect(new Set(carol.texts()).size).toBe(240);
  });
});

describe("conversations, history and unread over HTTP", () => {
  it("lists and pages through the real Worker, and keeps unread right on both of a user's devices", async () => {
    const [aliceName, bobName] = [unique("alice"), unique("bob")];
    const alice = start(aliceName);
    await until("alice is synced", () => alice.seen.synced > 0);
    const ids: string[] = [];
    for (const text of ["one", "two", "three"]) ids.push((await alice.client.send(bobName, text).acked).serverId);

    // The laptop takes the offline queue, then lists: what it got is not counted twice.
    const laptop = start(bobName);
    await until("the laptop has the three", () => laptop.seen.messages.length === 3);
    const list = await laptop.client.conversations();
    expect(list).toMatchObject({
      conversations: [{ id: aliceName, kind: "direct", unread: 3, readUpTo: 0, last: { id: ids[2] } }],
      unread: 3,
    });
    expect(laptop.seen.unread).toEqual([{ total: 3, conversations: [{ id: aliceName, unread: 3 }] }]);
    // The phone connects after the queue went to the laptop: it has seen none of the three.
    const phone = start(bobName);
    await until("the phone is synced", () => phone.seen.synced > 0);
    await phone.client.conversations();
    expect(phone.seen.unread).toEqual([{ total: 3, conversations: [{ id: aliceName, unread: 3 }] }]);

    const newest = await laptop.client.history(aliceName, { limit: 2 });
    expect(newest.messages.map((m) => m.message)).toEqual(["two", "three"]);
    expect(newest.next).toBe(newest.messages[0]!.seq);
    const older = await laptop.client.history(aliceName, { before: newest.next!, limit: 2 });
    expect(older).toMatchObject({ messages: [{ id: ids[0], from: aliceName, message: "one" }], next: null });

    // Read on the laptop: cleared there at once; the phone learns it from the receipt copy and the server's count.
    laptop.client.markRead(ids[2]!);
    expect(laptop.seen.unread.at(-1)).toEqual({ total: 0, conversations: [{ id: aliceName, unread: 0 }] });
    await until("the phone's badge is cleared", () => phone.seen.unread.at(-1)?.total === 0);
    expect(phone.seen.unread.at(-1)).toEqual({ total: 0, conversations: [{ id: aliceName, unread: 0 }] });
    await until("alice has the read receipt", () => alice.seen.receipts.some((r) => r.content === "MESSAGE_READ"));
    const mine = await alice.client.history(bobName);
    expect(mine.messages.map((m) => [m.message, "status" in m && m.status])).toEqual([
      ["one", "read"],
      ["two", "read"],
      ["three", "read"],
    ]);

    // A new message counts on both devices without asking the server.
    await alice.client.send(bobName, "four").acked;
    await until("both count it", () => [laptop, phone].every((d) => d.seen.unread.at(-1)?.total === 1));
    expect((await phone.client.conversations()).unread).toBe(1);

    await expect(laptop.client.history(aliceName, { limit: 500 })).rejects.toBeInstanceOf(ApiError);
    await expect(laptop.client.history(aliceName, { limit: 500 })).rejects.toMatchObject({ status: 400, error: "bad_limit" });
  });
});

describe("groups against the real Worker", () => {
  it("create, message, receipts, removal and leaving: every member sees one order, a removed one sees no more", async () => {
    const [aliceName, bobName, carolName] = [unique("alice"), unique("bob"), unique("carol")];
    const [alice, phone, bob, carol] = [start(aliceName), start(aliceName), start(bobName), start(carolName)];
    await until("all are synced", () => [alice, phone, bob, carol].every((p) => p.seen.synced > 0));

    const key = crypto.randomUUID();
    const group = await alice.client.createGroup({ name: "Launch", members: [bobName, carolName], idempotencyKey: key });
    expect(group).toMatchObject({ name: "Launch", members: [{ user: aliceName, role: "admin" }, { role: "member" }, { role: "member" }] });
    expect((await alice.client.createGroup({ name: "Launch", members: [bobName, carolName], idempotencyKey: key })).id).toBe(group.id);
    for (const p of [alice, phone, bob, carol]) await until("the created event arrives", () => p.seen.groupEvents.length === 1);
    expect(bob.seen.groupEvents[0]).toMatchObject({ from: aliceName, to: group.id, message: { event: "created", name: "Launch" } });

    // All three at once: each member's log has the group's one order.
    const sends = await Promise.all(
      [alice, bob, carol].flatMap((p, i) => [1, 2].map((n) => p.client.send(group.id, `${"abc"[i]}${n}`).acked)),
    );
    const inGroup = (p: typeof alice) => p.seen.messages.filter((m) => m.to === group.id).map((m) => m.id);
    // Each member's socket gets the others' messages; alice's phone gets hers too.
    for (const [p, count] of [
      [alice, 4],
      [phone, 6],
      [bob, 4],
      [carol, 4],
    ] as const) {
      await until("the group's messages arrive", () => inGroup(p).length === count);
    }
    const order = (await bob.client.history(group.id)).messages.filter((m) => m.type === "USER_MSG").map((m) => m.id);
    expect(new Set(order)).toEqual(new Set(sends.map((a) => a.serverId)));
    for (const p of [alice, carol]) {
      expect((await p.client.history(group.id)).messages.filter((m) => m.type === "USER_MSG").map((m) => m.id)).toEqual(order);
    }
    // And the sockets had them in that order too.
    for (const p of [alice, phone, bob, carol]) expect(inGroup(p)).toEqual(order.filter((id) => inGroup(p).includes(id)));

    // Receipts of a group message are live, for the sender's sockets, with no seq: the resume point stays.
    const seqBefore = alice.client.lastSeq;
    bob.client.markRead(sends[0]!.serverId);
    await until("alice hears bob read it", () => alice.seen.receipts.some((r) => r.from === bobName));
    const read = alice.seen.receipts.find((r) => r.from === bobName);
    expect(read).toMatchObject({ content: "MESSAGE_READ", message: sends[0]!.serverId });
    expect(read).not.toHaveProperty("seq");
    expect(alice.client.lastSeq).toBe(seqBefore);

    // Carol is removed: that event is her last of the group; what follows reaches bob, not her.
    const after = await alice.client.removeMember(group.id, carolName);
    expect(after.members.map((m) => m.user)).toEqual([aliceName, bobName]);
    await until("carol hears she was removed", () => carol.seen.groupEvents.length === 2);
    expect(carol.seen.groupEvents[1]).toMatchObject({ from: aliceName, message: { event: "member_removed", user: carolName } });
    const later = await alice.client.send(group.id, "after carol").acked;
    await until("bob has it", () => bob.seen.messages.some((m) => m.id === later.serverId));
    expect((await carol.client.history(group.id)).messages.map((m) => m.id)).not.toContain(later.serverId);
    expect(inGroup(carol)).not.toContain(later.serverId);
    await expect(carol.client.send(group.id, "still here?").acked).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(carol.client.getGroup(group.id)).rejects.toMatchObject({ status: 404 });

    // Bob leaves; alice, the admin, renames it and hears both in order.
    await bob.client.leaveGroup(group.id);
    await alice.client.renameGroup(group.id, "Liftoff");
    await until("alice has both events", () => alice.seen.groupEvents.length === 4);
    expect(alice.seen.groupEvents.map((g) => [g.message.event, g.message.user ?? g.message.name])).toEqual([
      ["created", "Launch"],
      ["member_removed", carolName],
      ["member_left", bobName],
      ["renamed", "Liftoff"],
    ]);
    expect((await alice.client.getGroup(group.id)).name).toBe("Liftoff");
  });
});

describe("typing and presence against the real Worker", () => {
  it("typing reaches the peer and a group's members, never the typist, and ends on false and on the message", async () => {
    const [aliceName, bobName, carolName] = [unique("alice"), unique("bob"), unique("carol")];
    const [alice, bob, carol] = [start(aliceName), start(bobName), start(carolName)];
    await until("all are synced", () => [alice, bob, carol].every((p) => p.seen.synced > 0));

    bob.client.typing(aliceName, true);
    await until("alice sees bob typing", () => alice.seen.typing.length === 1);
    bob.client.typing(aliceName, false);
    await until("and stop", () => alice.seen.typing.length === 2);
    expect(alice.seen.typing).toEqual([
      { conversation: bobName, user: bobName, typing: true },
      { conversation: bobName, user: bobName, typing: false },
    ]);

    const group = await alice.client.createGroup({ name: "Typists", members: [bobName, carolName] });
    await until("bob is in the group", () => bob.seen.groupEvents.length === 1);
    bob.client.typing(group.id, true);
    await until("alice and carol see it", () => [alice, carol].every((p) => p.seen.typing.some((t) => t.conversation === group.id)));
    await bob.client.send(group.id, "typed").acked;
    await until("the message ends it for both", () =>
      [alice, carol].every((p) => p.seen.typing.at(-1)?.conversation === group.id && p.seen.typing.at(-1)?.typing === false),
    );
    expect(carol.seen.typing).toEqual([
      { conversation: group.id, user: bobName, typing: true },
      { conversation: group.id, user: bobName, typing: false },
    ]);
    expect(bob.seen.typing).toEqual([]);
  });

  it("presence: a peer's status now, offline with lastSeen when they close, online again, and watched again after a reconnect", async () => {
    const [aliceName, bobName, strangerName] = [unique("alice"), unique("bob"), unique("stranger")];
    const alice = start(aliceName, { viaProxy: true, since: 0 });
    let bob = start(bobName);
    const stranger = start(strangerName);
    await until("all are synced", () => [alice, bob, stranger].every((p) => p.seen.synced > 0));
    await alice.client.send(bobName, "hi").acked;

    // The stranger shares no conversation with alice: left out without a word.
    alice.client.watchPresence([bobName, strangerName]);
    await until("bob is online", () => alice.seen.presence.length === 1);
    expect(alice.seen.presence).toEqual([{ user: bobName, status: "online", lastSeen: null }]);

    bob.client.close();
    await until("bob went offline", () => alice.seen.presence.length === 2);
    const gone = alice.seen.presence[1]!;
    expect(gone).toMatchObject({ user: bobName, status: "offline" });
    expect(Date.parse(gone.lastSeen!)).toBeGreaterThan(Date.now() - 60_000);

    bob = start(bobName);
    await until("bob is back", () => alice.seen.presence.length === 3);
    expect(alice.seen.presence[2]).toEqual({ user: bobName, status: "online", lastSeen: null });

    // A new socket has no subscription of its own: the client sends the list again, and the status comes again.
    proxy.cut();
    await until("alice reconnected", () => alice.seen.synced > 1);
    await until("bob's status came again", () => alice.seen.presence.length === 4);
    expect(alice.seen.presence[3]).toEqual({ user: bobName, status: "online", lastSeen: null });
    expect(alice.seen.presence.map((p) => p.user)).not.toContain(strangerName);
  });
});

describe("the built package, used from another project", () => {
  let scratch: string;
  let app: string;
  let packed: string[];

  beforeAll(async () => {
    // What `npm publish` would ship, unpacked where an app's `npm install` puts it. The
    // client has no runtime dependencies (the package's are the server's), so nothing
    // else is installed, and no network is used.
    scratch = mkdtempSync(join(tmpdir(), "lunarloom-consumer-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: ROOT });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    packed = info!.files.map((f) => f.path);
    app = join(scratch, "app");
    const installed = join(app, "node_modules", "lunarloom-edge");
    mkdirSync(installed, { recursive: true });
    await run("tar", ["-xzf", join(scratch, info!.filename), "-C", installed, "--strip-components=1"]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  });

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("ships the build, not the sources", () => {
    expect(packed).toEqual(expect.arrayContaining(["package.json", "dist/client/index.js", "dist/client/index.d.ts"]));
    expect(packed.filter((p) => !p.startsWith("dist/") && p !== "package.json" && p !== "README.md")).toEqual([]);
    expect(packed.some((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toBe(false);
  });

  it("plain Node 22 imports it by name, chats through the real Worker and reads the conversation back", async () => {
    writeFileSync(
      join(app, "chat.mjs"),
      `import { LunarLoomClient } from "lunarloom-edge/client";
const [url, alice, bob] = process.argv.slice(2);
const token = (user) => async () => (await (await fetch(url + "/dev/token?user=" + user)).json()).token;
const sender = new LunarLoomClient({ url, token: token(alice) });
const receiver = new LunarLoomClient({ url, token: token(bob) });
const received = new Promise((resolve) => receiver.on("message", resolve));
sender.connect();
receiver.connect();
const ack = await sender.send(bob, "from another project").acked;
const message = await received;
const list = await receiver.conversations();
const history = await receiver.history(alice);
sender.close();
receiver.close();
console.log(JSON.stringify({ ack, message, list, history }));
`,
    );
    const [alice, bob] = [unique("alice"), unique("bob")];
    // No timers left behind after close(): the process ends by itself, well before the timeout.
    const { stdout } = await run(process.execPath, ["chat.mjs", server.url, alice, bob], { cwd: app, timeout: 30_000 });
    const { ack, message, list, history } = JSON.parse(stdout);
    expect(message).toMatchObject({ id: ack.serverId, from: alice, to: bob, message: "from another project" });
    expect(list).toMatchObject({ conversations: [{ id: alice, unread: 1, last: { id: ack.serverId } }], unread: 1 });
    expect(history).toEqual({ messages: [message], next: null });
  });

  it("carries its types: a consumer's tsc resolves them through the exports map", async () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", target: "es2022", lib: ["es2024", "dom"], types: [], strict: true, noEmit: true },
        include: ["check.ts"],
      }),
    );
    // Each @ts-expect-error fails the check if the package's types were missing (everything `any`).
    writeFileSync(
      join(app, "check.ts"),
      `import { LunarLoomClient, SendError, type UserMsgFrame } from "lunarloom-edge/client";
const client = new LunarLoomClient({ url: "https://chat.example", token: async () => "jwt" });
client.on("message", (m: UserMsgFrame) => console.log(m.seq.toFixed(), m.from));
client.send("rick", "hi").acked.catch((e: unknown) => e instanceof SendError && e.code);
// @ts-expect-error: a recipient is a string
client.send(42, "hi");
// @ts-expect-error: there is no such event
client.on("nope", () => {});
// @ts-expect-error: seq is a number
const seq: string = (null as unknown as UserMsgFrame).seq;
`,
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    await expect(run(process.execPath, [tsc, "-p", app], { cwd: app })).resolves.toMatchObject({ stdout: "" });
  });
});
