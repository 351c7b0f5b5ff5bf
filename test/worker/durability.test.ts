/**
 * Nothing lost (DESIGN.md invariants 1-3): offline delivery, idempotent
 * resend, ordered delivery, resume with `since`, outbox retries by alarm, and
 * a log and outbox that survive eviction. Runs on real objects in workerd.
 * Restarting the whole server is proven in test/node/restart.test.ts.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { Envelope } from "../../src/envelope.ts";
import { isoSecond, userMsgText } from "../../src/protocol/build.ts";
import { UserObject } from "../../src/user/object.ts";
import { Client, uniqueUser } from "./helpers.ts";

const stub = (user: string) => env.USERS.getByName(user);

function count(user: string, sql: string): Promise<number> {
  return runInDurableObject(stub(user), (_o, state) => state.storage.sql.exec<{ n: number }>(sql).one().n);
}

/**
 * Makes the current instance of `user`'s object throw from deliver(), as a
 * recipient whose storage fails would. RPC dispatches through the prototype,
 * so the spy sits there and passes every other instance through.
 */
async function failDeliveriesTo(user: string): Promise<void> {
  const target = await runInDurableObject(stub(user), (object: UserObject) => object);
  const deliver = UserObject.prototype.deliver;
  vi.spyOn(UserObject.prototype, "deliver").mockImplementation(function (this: UserObject, envelopes) {
    if (this === target) return Promise.reject(new Error("recipient down"));
    return deliver.call(this, envelopes);
  });
}

describe("offline delivery", () => {
  it("queues messages for a user with no socket and pushes them, in order and once, on connect", async () => {
    const a = await Client.connect(uniqueUser("sender"));
    const bob = uniqueUser("offline");
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(await a.message(bob, `m${i}`));
    const b = await Client.open(bob);
    expect(b.hello.message.seq).toBe(5);
    const got = await b.client.take(5);
    expect(got.map((f) => f.id)).toEqual(acks.map((f) => f.message));
    expect(got.map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);
    await b.client.expectNothingMore();
    b.client.close();
    // The queue was consumed: the next socket starts live.
    const again = await Client.connect(bob);
    await again.expectNothingMore();
  });

  it("does not queue copies of one's own sends; a new device gets them with since", async () => {
    const me = uniqueUser("me");
    const a = await Client.connect(me);
    const ack = await a.message(uniqueUser("peer"), "my own");
    const fresh = await Client.connect(me);
    await fresh.expectNothingMore();
    const resumed = await Client.connect(me, { since: 0 });
    expect(await resumed.next()).toMatchObject({ id: ack.message, from: me, message: "my own", seq: 1 });
  });
});

describe("idempotent resend", () => {
  it("answers a resent client id with the same ack and delivers once, even from another socket", async () => {
    const me = uniqueUser("resender");
    const b = await Client.connect(uniqueUser("once"));
    const a = await Client.connect(me);
    const first = await a.message(b.user, "only once", "c-1");
    const again = await a.message(b.user, "only once", "c-1");
    expect(again).toEqual(first);
    a.close();
    const reconnected = await Client.connect(me);
    expect(await reconnected.message(b.user, "only once", "c-1")).toEqual(first);
    expect(await b.next()).toMatchObject({ id: first.message });
    await b.expectNothingMore(100);
  });

  it("keys dedupe by user: another user's same client id is a new message", async () => {
    const b = await Client.connect(uniqueUser("target"));
    const [xUser, yUser] = [uniqueUser("x"), uniqueUser("y")];
    const x = await (await Client.connect(xUser)).message(b.user, "from x", "same-id");
    const y = await (await Client.connect(yUser)).message(b.user, "from y", "same-id");
    expect(x.message).not.toBe(y.message);
    // Two senders' objects deliver independently: either may arrive first.
    expect(await b.expect({ id: x.message })).toMatchObject({ from: xUser, message: "from x" });
    expect(await b.expect({ id: y.message })).toMatchObject({ from: yUser, message: "from y" });
    await b.expectNothingMore();
  });
});

describe("order", () => {
  it("acks 500 pipelined messages in order and delivers them in ack order to an online and an offline recipient", async () => {
    const a = await Client.connect(uniqueUser("fast"));
    const online = await Client.connect(uniqueUser("online"));
    const offline = uniqueUser("later");
    for (let i = 0; i < 500; i++) {
      a.send({ id: `n${i}`, to: i % 2 ? offline : online.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    }
    const acks = await a.take(500, 20_000);
    expect(acks.map((f) => f.id)).toEqual(Array.from({ length: 500 }, (_, i) => `n${i}`));
    const even = await online.take(250, 20_000);
    expect(even.map((f) => f.id)).toEqual(acks.filter((_, i) => i % 2 === 0).map((f) => f.message));
    const later = await Client.connect(offline);
    const odd = await later.take(250, 20_000);
    expect(odd.map((f) => f.id)).toEqual(acks.filter((_, i) => i % 2 === 1).map((f) => f.message));
    expect(odd.map((f) => f.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });
});

describe("resume with since", () => {
  it("replays everything after since, then live frames, with no gap and no duplicate while traffic flows", async () => {
    const bob = uniqueUser("bob");
    const a = await Client.connect(uniqueUser("alice"));
    const first = await Client.connect(bob);
    const N = 300;
    for (let i = 0; i < N; i++) a.send({ id: `s${i}`, to: bob, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    // Join mid-stream, resuming from what the first device has seen so far.
    const seen = await first.take(40);
    const since = seen.at(-1)!.seq as number;
    const second = await Client.connect(bob, { since });
    await a.take(N, 20_000);
    const rest = await second.take(N - 40, 20_000);
    expect(rest.map((f) => f.seq)).toEqual(Array.from({ length: N - 40 }, (_, i) => since + i + 1));
    expect(rest.map((f) => f.message)).toEqual(Array.from({ length: N - 40 }, (_, i) => i + 40));
    await second.expectNothingMore();
  });

  it("since=0 replays the whole log: incoming, own copies and receipts, in seq order", async () => {
    const me = uniqueUser("me");
    const peer = uniqueUser("peer");
    const a = await Client.connect(me);
    const p = await Client.connect(peer);
    const mine = await a.message(peer, "out");
    expect(await p.next()).toMatchObject({ id: mine.message });
    const theirs = await p.message(me, "in");
    expect(await a.next()).toMatchObject({ id: theirs.message });
    a.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: theirs.message });
    expect(await p.next()).toMatchObject({ content: "MESSAGE_READ", message: theirs.message });
    const all = await (await Client.connect(me, { since: 0 })).take(3);
    expect(all.map((f) => [f.seq, f.type, f.content, f.id === mine.message || f.id === theirs.message])).toEqual([
      [1, "USER_MSG", "TEXT_MESSAGE", true],
      [2, "USER_MSG", "TEXT_MESSAGE", true],
      [3, "ACK_MSG", "MESSAGE_READ", false],
    ]);
  });
});

/** Makes `user`'s pending retries due now, as if their backoff had passed, and runs the alarm. */
async function retryNow(user: string): Promise<boolean> {
  await runInDurableObject(stub(user), (_o, state) => state.storage.sql.exec("UPDATE retries SET due = 0"));
  return runDurableObjectAlarm(stub(user));
}

/**
 * Pushes the recipient's retry and the sender's alarm a minute out: the
 * alarm's own timer (due within a second of the failure) cannot then run a
 * retry while the test is looking, and retryNow() is the only one.
 */
async function holdRetries(user: string): Promise<void> {
  await runInDurableObject(stub(user), async (_o, state) => {
    const later = Date.now() + 60_000;
    state.storage.sql.exec("UPDATE retries SET due = ?", later);
    await state.storage.setAlarm(later);
  });
}

/** Alice's message to a bob whose object refuses deliveries: acked, and waiting in alice's outbox. */
async function stuckMessage(text: string) {
  const alice = uniqueUser("alice");
  const bob = uniqueUser("flaky");
  await failDeliveriesTo(bob);
  const a = await Client.connect(alice);
  const ack = await a.message(bob, text);
  await vi.waitFor(async () => expect(await count(alice, "SELECT count(*) AS n FROM retries")).toBe(1));
  return { alice, bob, ack, a };
}

describe("the outbox", () => {
  it("retries a recipient that fails its first deliveries, by alarm, and delivers once", async () => {
    const { alice, bob, ack } = await stuckMessage("eventually");
    expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(1);
    // A failed attempt by alarm keeps the row and counts it. (The alarm's own
    // timer may also fire during the test: both paths are the same retry.)
    await retryNow(alice);
    expect(await count(alice, "SELECT attempts AS n FROM retries")).toBeGreaterThanOrEqual(2);
    expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(1);
    vi.restoreAllMocks();
    const b = await Client.connect(bob);
    await retryNow(alice);
    expect(await b.next()).toMatchObject({ id: ack.message, message: "eventually", seq: 1 });
    expect(await count(alice, "SELECT count(*) AS n FROM retries")).toBe(0);
    // The delivered row goes with alice's next write, or by itself shortly after.
    await vi.waitFor(async () => expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(0), { timeout: 5_000 });
    // Running the alarm again sends nothing twice.
    await runDurableObjectAlarm(stub(alice));
    await b.expectNothingMore();
  });

  it("leaves a failing recipient alone until its backoff has passed, whatever else wakes the sender", async () => {
    const { alice, bob, a } = await stuckMessage("first");
    const attempts = () => count(alice, "SELECT attempts AS n FROM retries");
    const due = () => count(alice, "SELECT due AS n FROM retries");
    await runInDurableObject(stub(alice), (_o, state) => state.storage.sql.exec("UPDATE retries SET due = ?", Date.now() + 60_000));
    // The first retry's alarm (due within a second of the failure) may have run before that: count from here.
    const tried = await attempts();
    const calls = vi.mocked(UserObject.prototype.deliver).mock.calls.length;
    // A new message to the same recipient, and an alarm run for any reason: neither calls it.
    await a.message(bob, "second");
    await runDurableObjectAlarm(stub(alice));
    expect(vi.mocked(UserObject.prototype.deliver).mock.calls.length).toBe(calls);
    expect(await attempts()).toBe(tried);
    expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(2);
    // The alarm stays set for the retry, and once it is due both go in one call.
    expect(await runInDurableObject(stub(alice), (_o, state) => state.storage.getAlarm())).toBeLessThanOrEqual(await due());
    vi.restoreAllMocks();
    const b = await Client.connect(bob);
    await retryNow(alice);
    expect((await b.take(2)).map((f) => f.message)).toEqual(["first", "second"]);
    expect(await count(alice, "SELECT count(*) AS n FROM retries")).toBe(0);
  });

  it("arms the safety-net alarm with the acked writes, even in an object just woken from hibernation", async () => {
    const alice = uniqueUser("alice");
    const bob = uniqueUser("bob");
    const a = await Client.connect(alice);
    await evictDurableObject(stub(alice));
    // The woken object cannot read its alarm: arming must not wait for that read,
    // or a crash between the acks and the read would leave the outbox with no wake-up.
    await runInDurableObject(stub(alice), (_o, state) => {
      vi.spyOn(state.storage, "getAlarm").mockReturnValue(new Promise(() => {}));
    });
    await a.message(bob, "guarded");
    vi.restoreAllMocks();
    const alarm = await runInDurableObject(stub(alice), (_o, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it("takes an envelope it already has only once (a sender retrying after a lost reply)", async () => {
    const rick = uniqueUser("rick");
    const b = await Client.connect(rick);
    const id = crypto.randomUUID();
    const frame = userMsgText(id, "john", rick, isoSecond(Date.now()), "TEXT_MESSAGE", '"once"');
    const envelope: Envelope = { id, sender: "john", recipient: rick, type: "USER_MSG", frame };
    await stub(rick).deliver([envelope]);
    await stub(rick).deliver([envelope, envelope]);
    expect(await b.next()).toMatchObject({ id, message: "once", seq: 1 });
    await b.expectNothingMore();
    expect(await count(rick, "SELECT count(*) AS n FROM log")).toBe(1);
  });

  it("removes a delivered row in the commit of the next send", async () => {
    const alice = uniqueUser("alice");
    const bob = uniqueUser("bob");
    const [a, b] = [await Client.connect(alice), await Client.connect(bob)];
    const first = await a.message(bob, "first");
    expect(await b.next()).toMatchObject({ id: first.message });
    // Whatever the sweep's timer did meanwhile, the row is gone once the next send has committed.
    await a.message(uniqueUser("carol"), "second");
    const left = await runInDurableObject(stub(alice), (_o, state) =>
      state.storage.sql
        .exec<{ id: string }>("SELECT id FROM outbox")
        .toArray()
        .map((r) => r.id),
    );
    expect(left).not.toContain(first.message);
  });

  it("delivers a row again to no effect when a crash kept it after its delivery", async () => {
    const alice = uniqueUser("alice");
    const bob = uniqueUser("bob");
    const [a, b] = [await Client.connect(alice), await Client.connect(bob)];
    const ack = await a.message(bob, "once");
    expect(await b.next()).toMatchObject({ id: ack.message, seq: 1 });
    await vi.waitFor(async () => expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(0), { timeout: 5_000 });
    // The row as it was before its removal, and an object that never knew it was delivered.
    const [row] = await runInDurableObject(stub(bob), (_o, state) =>
      state.storage.sql.exec<{ id: string; frame: string }>("SELECT id, frame FROM log").toArray(),
    );
    await runInDurableObject(stub(alice), (_o, state) =>
      state.storage.sql.exec(
        "INSERT INTO outbox (id, sender, recipient, type, frame) VALUES (?, ?, ?, 'USER_MSG', ?)",
        row!.id,
        alice,
        bob,
        row!.frame,
      ),
    );
    await evictDurableObject(stub(alice));
    expect(await runDurableObjectAlarm(stub(alice))).toBe(true);
    await vi.waitFor(async () => expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(0), { timeout: 5_000 });
    await b.expectNothingMore();
    expect(await count(bob, "SELECT count(*) AS n FROM log")).toBe(1);
  });

  it("keeps the log and a pending outbox through eviction", async () => {
    const { alice, bob, ack, a } = await stuckMessage("survives");
    await holdRetries(alice);
    a.close();
    await evictDurableObject(stub(alice));
    await evictDurableObject(stub(bob)); // the new instance is healthy
    vi.restoreAllMocks();
    expect(await count(alice, "SELECT count(*) AS n FROM outbox")).toBe(1);
    expect(await retryNow(alice)).toBe(true);
    const b = await Client.open(bob);
    expect(await b.client.next()).toMatchObject({ id: ack.message, message: "survives" });
    const copy = await (await Client.connect(alice, { since: 0 })).next();
    expect(copy).toMatchObject({ id: ack.message, seq: 1 });
  });
});
