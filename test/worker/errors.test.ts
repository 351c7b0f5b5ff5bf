/**
 * Errors (PROTOCOL.md): each bad frame gets one ERROR frame with its code and
 * `ref`, the socket stays usable, nobody else sees anything, and what was
 * acked before is still delivered. Receipt errors are in receipts.test.ts,
 * rate limits in limits.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { Outbox } from "../../src/user/outbox.ts";
import { Client, type Frame, TIME, UUID, uniqueUser } from "./helpers.ts";

const MAX = 64 * 1024;

async function pair(): Promise<[Client, Client]> {
  return [await Client.connect(uniqueUser("sender")), await Client.connect(uniqueUser("bystander"))];
}

function valid(to: string, extra: Frame = {}): Frame {
  return { id: crypto.randomUUID(), to, type: "USER_MSG", content: "TEXT_MESSAGE", message: "ok", ...extra };
}

/** Sends a bad frame, checks the one ERROR it gets, then proves the socket and the chat still work. */
async function expectError(raw: string | ArrayBuffer, code: string, ref?: string): Promise<Frame> {
  const [a, b] = await pair();
  const earlier = await a.message(b.user, "acked before");
  expect(await b.next()).toMatchObject({ id: earlier.message });
  a.send(raw);
  const err = await a.next();
  expect(err).toEqual({
    id: expect.stringMatching(UUID),
    from: "system",
    type: "SYSTEM_MSG",
    time: expect.stringMatching(TIME),
    content: "ERROR",
    message: ref === undefined ? { code, reason: expect.any(String) } : { code, reason: expect.any(String), ref },
  });
  expect(err.message.reason.length).toBeGreaterThan(0);
  const after = await a.message(b.user, "still works");
  expect(await b.next()).toMatchObject({ id: after.message, message: "still works" });
  await b.expectNothingMore();
  return err;
}

describe("BAD_JSON", () => {
  it("for text that is not JSON", () => expectError("{not json", "BAD_JSON"));
  it("for JSON that is not an object", async () => {
    for (const raw of ["[]", "42", '"USER_MSG"', "null"]) await expectError(raw, "BAD_JSON");
  });
});

describe("BAD_MESSAGE", () => {
  it.each([
    ["id", "'id' is required"],
    ["to", "'to' is required"],
    ["content", "'content' is required"],
    ["message", "'message' is required"],
  ])("when %s is missing", async (field, reason) => {
    const frame = valid("someone");
    delete frame[field];
    const err = await expectError(JSON.stringify(frame), "BAD_MESSAGE", field === "id" ? undefined : frame.id);
    expect(err.message.reason).toBe(reason);
  });

  it("when type is missing or mistyped", async () => {
    await expectError(JSON.stringify({ id: "t1", to: "x", content: "TEXT_MESSAGE", message: 1 }), "BAD_MESSAGE", "t1");
    await expectError(JSON.stringify(valid("x", { id: "t2", type: 7 })), "BAD_MESSAGE", "t2");
  });

  it("when a field has the wrong type or content", async () => {
    await expectError(JSON.stringify(valid("x", { id: "w1", to: 42 })), "BAD_MESSAGE", "w1");
    await expectError(JSON.stringify(valid("x", { id: "w2", to: "" })), "BAD_MESSAGE", "w2");
    await expectError(JSON.stringify(valid("x", { id: "w3", content: "HTML_MESSAGE" })), "BAD_MESSAGE", "w3");
    await expectError(JSON.stringify(valid("x", { id: 17 })), "BAD_MESSAGE");
  });

  it("when an id or identity is over 128 characters", async () => {
    await expectError(JSON.stringify(valid("x", { id: "i".repeat(129) })), "BAD_MESSAGE");
    await expectError(JSON.stringify(valid("t".repeat(129), { id: "long-to" })), "BAD_MESSAGE", "long-to");
  });

  it("accepts exactly 128 characters", async () => {
    const [a] = await pair();
    const ack = await a.message("t".repeat(128), "edge", "i".repeat(128));
    expect(ack.id).toBe("i".repeat(128));
  });

  it("when JSON nests deeper than 64 levels, and not at 64", async () => {
    const nest = (n: number) => "[".repeat(n) + "]".repeat(n);
    // The frame object is level 1, so a payload of 63 levels is 64 in all.
    await expectError(`{"id":"d1","to":"x","type":"USER_MSG","content":"TEXT_MESSAGE","message":${nest(64)}}`, "BAD_MESSAGE", "d1");
    const [a, b] = await pair();
    a.send(`{"id":"d2","to":${JSON.stringify(b.user)},"type":"USER_MSG","content":"TEXT_MESSAGE","message":${nest(63)}}`);
    expect(await a.next()).toMatchObject({ id: "d2", content: "MESSAGE_RECEIVED" });
  });

  it("for binary frames", () => expectError(new TextEncoder().encode(JSON.stringify(valid("x"))).buffer as ArrayBuffer, "BAD_MESSAGE"));
});

describe("UNKNOWN_TYPE", () => {
  it("for a type the server does not take from clients", async () => {
    await expectError(JSON.stringify(valid("x", { id: "u1", type: "NOTICE" })), "UNKNOWN_TYPE", "u1");
    await expectError(JSON.stringify(valid("x", { id: "u2", type: "PRESENCE" })), "UNKNOWN_TYPE", "u2");
  });

  it("a client's SYSTEM_MSG other than TOKEN_REFRESH is BAD_MESSAGE", async () => {
    await expectError(JSON.stringify(valid("x", { id: "u3", type: "SYSTEM_MSG" })), "BAD_MESSAGE", "u3");
  });
});

describe("TOO_LARGE", () => {
  it("counts bytes, not characters", async () => {
    const [a, b] = await pair();
    const envelope = JSON.stringify(valid(b.user, { id: "big", message: "" }));
    // 3 bytes per character: under the limit in characters, over it in bytes.
    const chars = Math.floor((MAX - envelope.length) / 2);
    const frame = JSON.stringify(valid(b.user, { id: "big", message: "€".repeat(chars) }));
    expect(frame.length).toBeLessThan(MAX);
    expect(new TextEncoder().encode(frame).length).toBeGreaterThan(MAX);
    // The ref lets a client's outbox drop the message instead of resending it forever.
    await expectError(frame, "TOO_LARGE", "big");
    // Exactly at the limit in bytes is accepted.
    const fill = MAX - JSON.stringify(valid(b.user, { id: "fits", message: "" })).length;
    const atLimit = JSON.stringify(valid(b.user, { id: "fits", message: "a".repeat(fill) }));
    expect(new TextEncoder().encode(atLimit).length).toBe(MAX);
    a.send(atLimit);
    expect(await a.next()).toMatchObject({ id: "fits", content: "MESSAGE_RECEIVED" });
    expect((await b.next()).message.length).toBe(fill);
  });

  it("for oversize binary frames", () => expectError(new ArrayBuffer(MAX + 1), "TOO_LARGE"));
});

describe("INTERNAL", () => {
  // A new user's first write also creates their tables: the failure must not roll those back.
  it("stores nothing of a frame the server fails on, keeps the rest of its batch, and a resend is a new message", async () => {
    const [a, b] = await pair();
    // The storage failure lands mid-frame: after the log insert, before the outbox insert.
    vi.spyOn(Outbox.prototype, "enqueue").mockImplementationOnce(() => {
      throw new Error("disk full");
    });
    a.send({ id: "boom", to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "lost?" });
    a.send({ id: "fine", to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "same batch" });
    const [err, ack] = await a.take(2);
    expect(err).toMatchObject({ content: "ERROR", message: { code: "INTERNAL", ref: "boom" } });
    expect(ack).toMatchObject({ id: "fine", content: "MESSAGE_RECEIVED" });
    vi.restoreAllMocks();
    // The failed frame's log row was rolled back with its savepoint: its id is free again.
    const logged = await runInDurableObject(env.USERS.getByName(a.user), (_o, state) =>
      state.storage.sql
        .exec<{ client_id: string }>("SELECT client_id FROM log WHERE client_id IS NOT NULL")
        .toArray()
        .map((r) => r.client_id),
    );
    expect(logged).toEqual(["fine"]);
    const resent = await a.message(b.user, "lost?", "boom");
    expect(resent.message).not.toBe(ack!.message);
    expect((await b.take(2)).map((f) => f.message)).toEqual(["same batch", "lost?"]);
    await b.expectNothingMore();
  });
});
