/**
 * End to end, across restarts of a real `wrangler dev --persist-to <dir>`:
 * real WebSockets (Node 22's client) to a real server process, stopped and
 * started again on the same state directory.
 *
 * What it proves, for the promises in PROTOCOL.md and DESIGN.md's invariants:
 *
 * - An acked message is never lost by a restart (invariant 1): every message
 *   whose MESSAGE_RECEIVED ack the sender saw reaches the offline recipient
 *   after the restart, both when the server is stopped with SIGTERM and when
 *   its whole process group is SIGKILLed the instant the acks arrive ("a crash
 *   between ack and delivery") or halfway through them. In the crash cases
 *   the sender stays offline until the recipient has every acked message, so
 *   only the sender's outbox and its persisted alarm can have delivered
 *   whatever was still owed when the server died; the same holds for a sender
 *   whose safety-net alarm has already fired once before the crash.
 * - Exactly once and in order (invariants 2 and 3): pipelined frames are acked
 *   in the order sent; a resent client id (in the same burst, and after a
 *   crash, as a reconnecting client resends what it saw no ack for) gets the
 *   same server id and no second delivery; the recipient gets each message
 *   once, in ack order, with strictly increasing `seq`, and nothing else (a
 *   marker message sent last must be the very next frame).
 * - Resume: `since=0` replays the same frames with the same seqs after the
 *   restart; `since=<last seq>` replays nothing (shown by a ping → "pong"
 *   round trip with nothing before the pong).
 * - Receipts across a restart: a MESSAGE_READ sent while the original sender
 *   is offline, then a crash, reaches the sender once when it next connects
 *   (no `since`); a repeated receipt does not reach it again.
 *
 * What it does not prove: behaviour on Cloudflare's network (real eviction,
 * deploys, storage replication), a power loss (SIGKILL keeps what the process
 * handed to the OS), receipts of kind MESSAGE_DELIVERED, more than one sender
 * per recipient, or anything about speed. Whether a crash really left frames
 * in the outbox is a race the test cannot force from outside; it reads the
 * dead server's SQLite files only to log how many were left (a diagnostic,
 * never an assertion), so a run's log shows which path it exercised.
 * `wrangler dev` reloads the Worker when a source file changes, which drops
 * every socket (1006): a run during edits to the checkout can fail for that
 * reason alone, and a failing test prints wrangler's output to show it.
 */
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { type DevServer, startDevServer } from "./devserver.ts";
import { type Frame, PONG, uniqueUser, WsClient } from "./wsclient.ts";

/** How long the recipient may wait after a restart: the outbox's safety-net alarm is 10 s after the first flush. */
const DELIVERY_TIMEOUT_MS = 25_000;
/** Payloads big enough that a burst keeps delivery busy after the acks (widening the crash window). */
const PAD = "x".repeat(24_000);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const persistTo = mkdtempSync(join(tmpdir(), "lunarloom-restart-"));
let server: DevServer | null = null;
const sockets: WsClient[] = [];
const timings: string[] = [];
/** The tail of the running server's output since it was ready, for failure messages. */
let serverOutput = "";

function note(line: string): void {
  timings.push(line);
  console.info(`[restart] ${line}`);
}

async function running(): Promise<DevServer> {
  if (server) return server;
  const t = Date.now();
  server = await startDevServer({ persistTo, startTimeoutMs: 60_000 });
  note(`wrangler dev started in ${Date.now() - t} ms (port ${server.port})`);
  serverOutput = "";
  const keep = (d: Buffer | string) => (serverOutput = (serverOutput + String(d)).slice(-8000));
  server.process.stdout?.on("data", keep);
  server.process.stderr?.on("data", keep);
  return server;
}

/** Stops the server: SIGTERM to its process group, or SIGKILL with no grace at all. */
async function stop(how: "sigterm" | "sigkill"): Promise<void> {
  const s = server;
  server = null;
  if (!s) return;
  const t = Date.now();
  if (how === "sigterm") {
    await s.stop();
  } else {
    const child = s.process;
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, "exit");
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    note(`sigkill: wrangler exited ${Date.now() - t} ms after the signal`);
  }
  // workerd is in the same group: wait (bounded) until none of it is left holding the state files.
  for (let i = 0; i < 100 && groupAlive(s.process.pid!); i++) await sleep(50);
  note(`${how} stop took ${Date.now() - t} ms`);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function connect(user: string, since?: number): Promise<WsClient> {
  const client = await WsClient.connect(await running(), user, since === undefined ? {} : { since });
  sockets.push(client);
  return client;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Diagnostic only: what the stopped server left in `user`'s object, read
 * from the persisted SQLite (rows still in the outbox for `recipient`, and
 * the object's alarm). Null if the layout is not what this expects.
 */
function leftInOutbox(user: string, recipient: string): { outbox: number; alarm: string | null } | null {
  const script = `
    const { DatabaseSync } = require("node:sqlite");
    const { readdirSync } = require("node:fs");
    const [dir, user, recipient] = process.argv.slice(1);
    for (const f of readdirSync(dir)) {
      if (!f.endsWith(".sqlite") || f === "metadata.sqlite") continue;
      const db = new DatabaseSync(dir + "/" + f, { readOnly: true });
      try {
        if (db.prepare("SELECT name FROM __miniflare_do_name").get()?.name !== user) continue;
        const outbox = db.prepare("SELECT count(*) AS c FROM outbox WHERE recipient = ?").get(recipient).c;
        const st = db.prepare("SELECT value FROM _cf_METADATA WHERE key = 1");
        st.setReadBigInts(true);
        const ns = st.get()?.value;
        const alarm = ns === undefined ? null : new Date(Number(ns / 1000000n)).toISOString();
        console.log(JSON.stringify({ outbox, alarm }));
        break;
      } catch {} finally { db.close(); }
    }`;
  try {
    const dir = join(persistTo, "v3/do");
    const sub = readdirSync(dir).find((d) => d.endsWith("-UserObject"));
    if (!sub) return null;
    // A child process: node:sqlite is not something vitest's module runner needs to load.
    const out = spawnSync(process.execPath, ["--no-warnings", "-e", script, join(dir, sub), user, recipient], {
      encoding: "utf8",
      timeout: 10_000,
    });
    const line = out.stdout.trim();
    return line ? (JSON.parse(line) as { outbox: number; alarm: string | null }) : null;
  } catch {
    return null;
  }
}

interface Sent {
  clientId: string;
  payload: { n: number; text: string; pad: string };
}

interface Acked extends Sent {
  serverId: string;
}

function makeMessages(sender: string, count: number): Sent[] {
  return Array.from({ length: count }, (_, n) => ({
    clientId: `${sender}-c${n}`,
    payload: { n, text: `message ${n} from ${sender}`, pad: PAD },
  }));
}

/**
 * Checks the acks that arrived for `order` (client ids in the order sent,
 * resends included): in send order, well formed, a resend gets the first
 * server id. Returns the distinct messages acked, in ack order.
 */
function checkAcks(acks: Frame[], order: string[], messages: Sent[], sender: string, known = new Map<string, string>()): Acked[] {
  expect(acks.length).toBeLessThanOrEqual(order.length);
  const byId = new Map(messages.map((m) => [m.clientId, m]));
  const out: Acked[] = [];
  acks.forEach((ack, i) => {
    expect(ack).toEqual({
      id: order[i],
      from: sender,
      type: "ACK_MSG",
      time: expect.any(String),
      content: "MESSAGE_RECEIVED",
      message: expect.stringMatching(UUID),
    });
    const earlier = known.get(ack.id);
    if (earlier !== undefined) {
      expect(ack.message, `resend of ${ack.id} must get the same server id`).toBe(earlier);
      return;
    }
    known.set(ack.id, ack.message);
    out.push({ ...byId.get(ack.id)!, serverId: ack.message });
  });
  expect(new Set(out.map((m) => m.serverId)).size).toBe(out.length);
  return out;
}

/** The frame the recipient must get for `m`. */
function delivered(m: Acked, from: string, to: string): Frame {
  return {
    id: m.serverId,
    from,
    to,
    type: "USER_MSG",
    time: expect.any(String),
    content: "TEXT_MESSAGE",
    message: m.payload,
    seq: expect.any(Number),
  };
}

function expectIncreasingSeqs(frames: Frame[]): void {
  for (let i = 1; i < frames.length; i++) expect(frames[i]!.seq, `seq at ${i}`).toBeGreaterThan(frames[i - 1]!.seq);
}

/** Brief, for failure messages: what each frame was. */
function brief(frames: Frame[]): string {
  return JSON.stringify(
    frames.map((f) => (f === PONG ? "pong" : { id: f.id, type: f.type, content: f.content, n: f.message?.n, seq: f.seq })),
  );
}

/**
 * The whole story for one sender and one offline recipient:
 * burst → stop (how, when) → restart → recipient gets the acked messages
 * with the sender still offline → the sender reconnects and resends what it
 * saw no ack for, then a marker → the recipient gets exactly the rest, then
 * the marker → `since=0` replays it all → `since=<last>` replays nothing.
 */
async function burstAcrossRestart(opts: {
  count: number;
  how: "sigterm" | "sigkill";
  stopAfterAcks?: number;
  before?: (alice: WsClient, aliceName: string) => Promise<void>;
}): Promise<void> {
  const aliceName = uniqueUser("alice");
  const bobName = uniqueUser("bob");
  const messages = makeMessages(aliceName, opts.count);

  const alice = await connect(aliceName);
  await opts.before?.(alice, aliceName);
  const ackFramesBefore = alice.frames.length;

  // Pipelined, with two resends of the same client id inside the burst.
  const order: string[] = [];
  const t0 = Date.now();
  for (const m of messages) {
    alice.sendMessage(m.clientId, bobName, m.payload);
    order.push(m.clientId);
    if (m.payload.n === 20) {
      alice.sendMessage(messages[3]!.clientId, bobName, messages[3]!.payload);
      order.push(messages[3]!.clientId);
    }
  }
  const lastId = messages.at(-1)!.clientId;
  alice.sendMessage(messages[17]!.clientId, bobName, messages[17]!.payload);
  order.push(messages[17]!.clientId);

  // Stop the instant the chosen ack arrives (with SIGKILL: no grace at all).
  const stopAt = opts.stopAfterAcks ?? order.length;
  await alice.take(stopAt, 30_000);
  const tAcked = Date.now();
  await stop(opts.how);
  const known = new Map<string, string>();
  // Everything the sender got after the burst must be an ack (no error frames), in send order.
  const acked = checkAcks(alice.frames.slice(ackFramesBefore), order, messages, aliceName, known);
  note(`${opts.how}: ${acked.length}/${opts.count} messages acked in ${tAcked - t0} ms before the stop`);
  if (opts.stopAfterAcks === undefined) expect(known.has(lastId)).toBe(true);
  const left = leftInOutbox(aliceName, bobName);
  note(
    `${opts.how}: left in ${aliceName}'s outbox for ${bobName} at the stop: ${left ? `${left.outbox} rows, alarm ${left.alarm}` : "unknown (could not read the state files)"}`,
  );

  await running();
  const tUp = Date.now();

  // The sender stays offline: only its outbox and alarm can deliver what was still owed.
  const bob = await connect(bobName);
  let first: Frame[];
  try {
    first = await bob.take(acked.length, DELIVERY_TIMEOUT_MS);
  } catch (err) {
    throw new Error(
      `after the restart ${bobName} got ${bob.frames.length - 1} of the ${acked.length} messages ${aliceName} saw acked ` +
        `(${left ? `${left.outbox} were still in the outbox at the stop, alarm ${left.alarm}` : "outbox state unknown"}); ` +
        `got: ${brief(bob.frames.slice(1))}. ${(err as Error).message}\nwrangler dev output since the restart:\n${serverOutput}`,
    );
  }
  note(`${bobName} had all ${acked.length} acked messages ${Date.now() - tUp} ms after the restart`);
  expect(first).toEqual(acked.map((m) => delivered(m, aliceName, bobName)));

  // A reconnecting client resends what it saw no ack for: same server id if it was stored, never twice.
  const alice2 = await connect(aliceName);
  const resendOrder: string[] = [];
  for (const m of messages) {
    if (known.has(m.clientId)) continue;
    alice2.sendMessage(m.clientId, bobName, m.payload);
    resendOrder.push(m.clientId);
  }
  // And a resend of one that was acked before the stop.
  alice2.sendMessage(messages[0]!.clientId, bobName, messages[0]!.payload);
  resendOrder.push(messages[0]!.clientId);
  const marker: Sent = { clientId: `${aliceName}-marker`, payload: { n: -1, text: "marker", pad: "" } };
  alice2.sendMessage(marker.clientId, bobName, marker.payload);
  resendOrder.push(marker.clientId);
  const later = checkAcks(await alice2.take(resendOrder.length, 30_000), resendOrder, [...messages, marker], aliceName, known);
  expect(later.at(-1)!.clientId).toBe(marker.clientId);
  expect(known.size).toBe(opts.count + 1);

  // Everything after the acked prefix, exactly once, in order, then the marker and nothing else.
  const all: Acked[] = [...acked, ...later];
  const allExpected = all.map((m) => delivered(m, aliceName, bobName));
  const rest = await bob.take(all.length - acked.length, DELIVERY_TIMEOUT_MS);
  expect(rest, `after the acked prefix ${bobName} got ${brief(rest)}`).toEqual(allExpected.slice(acked.length));
  const log = [...first, ...rest];
  expectIncreasingSeqs(log);
  expect(await bob.drainUntilPong()).toEqual([]);
  // Ack order is send order: the recipient's order is the messages' order.
  expect(all.map((m) => m.payload.n)).toEqual([...messages.map((m) => m.payload.n), -1]);

  // Resume: the full log again with the same seqs, then nothing after the last.
  const replay = await connect(bobName, 0);
  expect(replay.hello.message).toEqual({
    connectionId: expect.stringMatching(UUID),
    user: bobName,
    seq: log.at(-1)!.seq,
    limits: expect.any(Object),
  });
  expect(await replay.take(log.length, 10_000)).toEqual(log);
  expect(await replay.drainUntilPong()).toEqual([]);
  const tail = await connect(bobName, log.at(-1)!.seq);
  expect(await tail.drainUntilPong()).toEqual([]);
  // The offline queue was consumed by the first connection.
  const again = await connect(bobName);
  expect(await again.drainUntilPong()).toEqual([]);
}

describe("restart of wrangler dev --persist-to", () => {
  afterEach(async (context) => {
    await Promise.all(sockets.splice(0).map((s) => s.close(2000)));
    // A socket closed with 1006 mid-test is often wrangler dev reloading after a file in the checkout changed.
    if (context.task.result?.state === "fail") console.info(`[restart] wrangler dev output since the last start:\n${serverOutput}`);
  });

  afterAll(async () => {
    await stop("sigterm");
    rmSync(persistTo, { recursive: true, force: true });
    console.info(`[restart] timings:\n  ${timings.join("\n  ")}`);
  });

  test("SIGTERM after the acks: every acked message reaches the offline recipient once, in order", async () => {
    await burstAcrossRestart({ count: 50, how: "sigterm" });
  });

  test("SIGKILL the instant the last ack arrives: the sender's outbox and alarm deliver after the restart", async () => {
    await burstAcrossRestart({ count: 50, how: "sigkill" });
  });

  test("SIGKILL halfway through the acks: acked messages arrive; resent unacked ones arrive once", async () => {
    await burstAcrossRestart({ count: 50, how: "sigkill", stopAfterAcks: 25 });
  });

  test("SIGKILL after the sender's safety-net alarm has already fired once: the outbox is still delivered", async () => {
    await burstAcrossRestart({
      count: 50,
      how: "sigkill",
      stopAfterAcks: 25,
      // A first send (to someone else) arms the safety-net alarm (10 s out in src/user.ts); let it
      // fire before the burst, as it has for any sender that has been active for a while.
      before: async (alice, aliceName) => {
        const carol = uniqueUser("carol");
        alice.sendMessage(`${aliceName}-warmup`, carol, "warm-up");
        expect((await alice.next()).content).toBe("MESSAGE_RECEIVED");
        await sleep(11_500);
      },
    });
  });

  test("a read receipt sent while the sender is offline survives a crash and reaches the sender once", async () => {
    const aliceName = uniqueUser("alice");
    const bobName = uniqueUser("bob");
    const alice = await connect(aliceName);
    alice.sendMessage("m1", bobName, "first");
    alice.sendMessage("m2", bobName, "second");
    const [ack1, ack2] = await alice.take(2);
    const m1: string = ack1!.message;
    const m2: string = ack2!.message;
    expect([ack1!.id, ack2!.id]).toEqual(["m1", "m2"]);
    await alice.close();

    const bob1 = await connect(bobName);
    const bob2 = await connect(bobName, bob1.hello.message.seq);
    const incoming = await bob1.take(2, DELIVERY_TIMEOUT_MS);
    expect(incoming.map((f) => f.id)).toEqual([m1, m2]);
    bob1.sendReceipt("MESSAGE_READ", m1);
    const copy = await bob2.expect({ type: "ACK_MSG" }, 10_000);
    // bob2 may see m1 and m2 live or not at all (it connected after the first), but nothing else.
    for (const f of bob2.frames.slice(1)) if (f !== copy) expect([m1, m2]).toContain(f.id);
    // The copy on bob's other socket shows the receipt is committed in bob's object; crash right away.
    expect(copy).toEqual({
      id: expect.stringMatching(UUID),
      from: bobName,
      to: aliceName,
      type: "ACK_MSG",
      time: expect.any(String),
      content: "MESSAGE_READ",
      message: m1,
      seq: expect.any(Number),
    });
    await stop("sigkill");
    const left = leftInOutbox(bobName, aliceName);
    note(
      `receipt: left in ${bobName}'s outbox for ${aliceName} at the kill: ${left ? `${left.outbox} rows, alarm ${left.alarm}` : "unknown"}`,
    );
    await running();
    const tUp = Date.now();

    // No `since`: the offline queue (or, if bob's object had not delivered it yet, its alarm live).
    const alice2 = await connect(aliceName);
    let receipt: Frame;
    try {
      receipt = await alice2.next(DELIVERY_TIMEOUT_MS);
    } catch (err) {
      throw new Error(
        `after the restart ${aliceName} did not get the MESSAGE_READ receipt for ${m1} (bob's outbox: ${JSON.stringify(left)}): ${(err as Error).message}`,
      );
    }
    note(`${aliceName} had the receipt ${Date.now() - tUp} ms after the restart`);
    expect(receipt).toEqual({ ...copy, seq: expect.any(Number) });

    // Once: bob repeats the receipt, then sends a marker; per sender→recipient order,
    // the marker is alice's next frame, with no second receipt before it.
    const bob3 = await connect(bobName);
    bob3.sendReceipt("MESSAGE_READ", m1);
    bob3.sendMessage("after-receipt", aliceName, "marker");
    // bob's only socket (the others died with the server), and a repeated receipt gets no reply: the ack comes first.
    const markerAck = await bob3.next();
    expect(markerAck).toMatchObject({ id: "after-receipt", content: "MESSAGE_RECEIVED" });
    const next = await alice2.next(DELIVERY_TIMEOUT_MS);
    expect(next, `after the receipt ${aliceName} got ${brief([next])}`).toEqual({
      id: markerAck.message,
      from: bobName,
      to: aliceName,
      type: "USER_MSG",
      time: expect.any(String),
      content: "TEXT_MESSAGE",
      message: "marker",
      seq: expect.any(Number),
    });
    expect(next.seq).toBeGreaterThan(receipt.seq);
    expect(await alice2.drainUntilPong()).toEqual([]);

    // Nothing left queued; the whole log has the receipt once, with the seq it was sent with.
    const alice3 = await connect(aliceName);
    expect(await alice3.drainUntilPong()).toEqual([]);
    const full = await connect(aliceName, 0);
    const log = await full.take(4, 10_000);
    expect(log.map((f) => [f.type, f.content, f.message])).toEqual([
      ["USER_MSG", "TEXT_MESSAGE", "first"],
      ["USER_MSG", "TEXT_MESSAGE", "second"],
      ["ACK_MSG", "MESSAGE_READ", m1],
      ["USER_MSG", "TEXT_MESSAGE", "marker"],
    ]);
    expect(log[2]).toEqual(receipt);
    expect(log[3]).toEqual(next);
    expect(full.hello.message.seq).toBe(next.seq);
    expectIncreasingSeqs(log);
    expect(await full.drainUntilPong()).toEqual([]);
  });
});
