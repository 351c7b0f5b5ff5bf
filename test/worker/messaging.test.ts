/**
 * Sending a message (PROTOCOL.md): exact frame shapes, multi-device fan-out,
 * `from` from the token, unknown fields dropped, payload relayed byte for
 * byte, pipelined order, and an object evicted between messages.
 * Durability across restarts is proven in durability.test.ts and test/node/restart.test.ts.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Client, TIME, UUID, uniqueUser } from "./helpers.ts";

describe("a two-user chat", () => {
  it("acks the sender with its client id and the server id, and delivers the documented frame", async () => {
    const john = uniqueUser("john");
    const rick = uniqueUser("rick");
    const a = await Client.connect(john);
    const b = await Client.connect(rick);
    a.send({ id: "c-17", to: rick, type: "USER_MSG", content: "TEXT_MESSAGE", message: "Hello, world!" });
    const ack = await a.next();
    expect(ack).toEqual({
      id: "c-17",
      from: john,
      type: "ACK_MSG",
      time: expect.stringMatching(TIME),
      content: "MESSAGE_RECEIVED",
      message: expect.stringMatching(UUID),
    });
    const msg = await b.next();
    expect(msg).toEqual({
      id: ack.message,
      from: john,
      to: rick,
      type: "USER_MSG",
      time: ack.time,
      content: "TEXT_MESSAGE",
      message: "Hello, world!",
      seq: 1,
    });
    // And back.
    const back = await b.message(john, "Hi John");
    expect(await a.next()).toMatchObject({ id: back.message, from: rick, to: john, message: "Hi John" });
    a.close();
    b.close();
  });

  it("relays FILE_MESSAGE payloads unchanged", async () => {
    const a = await Client.connect(uniqueUser("filer"));
    const b = await Client.connect(uniqueUser("filee"));
    const file = { name: "a.png", type: "image/png", size: 3, data: btoa("abc") };
    a.send({ id: "f1", to: b.user, type: "USER_MSG", content: "FILE_MESSAGE", message: file });
    await a.next();
    expect(await b.next()).toMatchObject({ content: "FILE_MESSAGE", message: file });
  });
});

describe("multi-device", () => {
  it("fans out to every socket of the recipient and the sender's other sockets, not the sending one", async () => {
    const john = uniqueUser("john");
    const rick = uniqueUser("rick");
    const [j1, j2, r1, r2] = await Promise.all([Client.connect(john), Client.connect(john), Client.connect(rick), Client.connect(rick)]);
    const ack = await j1.message(rick, "to all of you");
    for (const c of [j2, r1, r2]) {
      expect(await c.next()).toMatchObject({ id: ack.message, from: john, to: rick, type: "USER_MSG", message: "to all of you" });
    }
    await j1.expectNothingMore();
    // The copy sits in John's log, the message in Rick's: each has its own seq.
    const copy = j2.frames.at(-1)!;
    const delivered = r1.frames.at(-1)!;
    expect(copy.seq).toBe(1);
    expect(delivered.seq).toBe(1);
    expect(r2.frames.at(-1)).toEqual(delivered);
  });

  it("delivers a message to oneself to one's other sockets", async () => {
    const me = uniqueUser("self");
    const [a, b] = [await Client.connect(me), await Client.connect(me)];
    const ack = await a.message(me, "note to self");
    expect(await b.next()).toMatchObject({ id: ack.message, from: me, to: me, message: "note to self" });
    await a.expectNothingMore();
  });
});

describe("what the server sets and drops", () => {
  it("ignores a spoofed from and sends as the token's identity", async () => {
    const mallory = uniqueUser("mallory");
    const victim = uniqueUser("victim");
    const target = uniqueUser("target");
    const m = await Client.connect(mallory);
    const t = await Client.connect(target);
    m.send({ id: "x1", from: victim, to: target, type: "USER_MSG", content: "TEXT_MESSAGE", message: "it's me" });
    expect(await m.next()).toMatchObject({ from: mallory, content: "MESSAGE_RECEIVED" });
    expect(await t.next()).toMatchObject({ from: mallory, to: target });
  });

  it("drops unknown fields and ignores a client's time and seq", async () => {
    const a = await Client.connect(uniqueUser("extra"));
    const b = await Client.connect(uniqueUser("extra-to"));
    a.send({
      id: "e1",
      to: b.user,
      type: "USER_MSG",
      content: "TEXT_MESSAGE",
      message: 1,
      admin: true,
      time: "1999-01-01T00:00:00Z",
      seq: 99,
    });
    const ack = await a.next();
    const got = await b.next();
    expect(Object.keys(got).sort()).toEqual(["content", "from", "id", "message", "seq", "time", "to", "type"]);
    expect(got.time).toBe(ack.time);
    expect(got.seq).toBe(1);
  });

  it("relays the payload's JSON text byte for byte (no re-serialization)", async () => {
    const a = await Client.connect(uniqueUser("raw"));
    const b = await Client.connect(uniqueUser("raw-to"));
    const raw = '{ "n": 12345678901234567890, "f": 1.0e3, "s": "\\u00e9\\ud83d\\ude00", "dup": 1, "dup": 2 }';
    a.send(`{"id":"r1","to":${JSON.stringify(b.user)},"type":"USER_MSG","content":"TEXT_MESSAGE","message":${raw}}`);
    await a.next();
    await b.next();
    expect(b.texts[1]).toContain(`"message":${raw.trim()},"seq":`);
  });
});

describe("order and load", () => {
  it("acks 200 pipelined messages in order and delivers them in ack order", async () => {
    const a = await Client.connect(uniqueUser("burst"));
    const b = await Client.connect(uniqueUser("burst-to"));
    for (let i = 0; i < 200; i++) a.send({ id: `p${i}`, to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: i });
    const acks = await a.take(200);
    expect(acks.map((f) => f.id)).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
    const got = await b.take(200);
    expect(got.map((f) => f.id)).toEqual(acks.map((f) => f.message));
    expect(got.map((f) => f.message)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(got.map((f) => f.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});

describe("hibernation", () => {
  it("keeps serving sockets after the object is evicted between messages", async () => {
    const john = uniqueUser("john");
    const rick = uniqueUser("rick");
    const a = await Client.connect(john);
    const b = await Client.connect(rick);
    await a.message(rick, "before");
    const before = await b.next();
    await evictDurableObject(env.USERS.getByName(john));
    await evictDurableObject(env.USERS.getByName(rick));
    // Identity and connection survive in the attachment: the woken object knows who sends.
    const ack = await a.message(rick, "after");
    expect(ack.from).toBe(john);
    const after = await b.next();
    expect(after).toMatchObject({ id: ack.message, from: john, to: rick, message: "after" });
    // Eviction may interrupt the sender before it clears its outbox; the
    // redelivery is dropped by the recipient, which costs at most a seq gap.
    expect(after.seq).toBeGreaterThan(before.seq);
    const reply = await b.message(john, "still here");
    expect(await a.next()).toMatchObject({ id: reply.message, from: rick, message: "still here" });
    a.send("ping");
    expect(await a.next()).toEqual({ pong: true });
  });
});
