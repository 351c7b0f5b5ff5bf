/**
 * Order under refusal (PROTOCOL.md, Errors, v3): after a RATE_LIMITED
 * refusal of a USER_MSG, the socket's later USER_MSGs are refused too until
 * the refused id comes again, so a client that resends from it, in order,
 * keeps its user's order. Small limits from the "worker-limits" project:
 * 5 frames/s, burst 10 (a token may come back while a test sends).
 */
import { describe, expect, it } from "vitest";
import { apiJson, Client, type Frame, uniqueUser } from "../worker/helpers.ts";

const msg = (i: number, to: string) => ({ id: `m${i}`, to, type: "USER_MSG", content: "TEXT_MESSAGE", message: `text ${i}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const texts = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `text ${from + k}`);

/** A socket's answers to its USER_MSGs, in arrival order. */
function answers(frames: Frame[]): { acked: string[]; refused: { ref: string; reason: string }[] } {
  const out = { acked: [] as string[], refused: [] as { ref: string; reason: string }[] };
  for (const f of frames) {
    if (f.content === "MESSAGE_RECEIVED") {
      // Nothing is acked after a refusal until the refused id comes again.
      expect(out.refused).toEqual([]);
      out.acked.push(f.id);
    } else if (f.content === "ERROR") {
      expect(f.message.code).toBe("RATE_LIMITED");
      out.refused.push({ ref: f.message.ref, reason: f.message.reason });
    }
  }
  return out;
}

/** Pipelines m0..m(n-1) and checks the answers: acks up to the first refusal, then every later message held back. */
async function pipeline(a: Client, to: string, n: number): Promise<number> {
  for (let i = 0; i < n; i++) a.send(msg(i, to));
  const { acked, refused } = answers(await a.drain());
  const first = acked.length;
  expect(first).toBeGreaterThanOrEqual(10);
  expect(first).toBeLessThan(n);
  expect(acked).toEqual(Array.from({ length: first }, (_, i) => `m${i}`));
  expect(refused.map((r) => r.ref)).toEqual(Array.from({ length: n - first }, (_, i) => `m${first + i}`));
  expect(refused[0]!.reason).toMatch(/^over 5 frames per second/);
  for (const r of refused.slice(1)) expect(r.reason).toBe(`held back after the refusal of 'm${first}'; resend from it, in order`);
  return first;
}

describe("hold-back after a RATE_LIMITED refusal", () => {
  it("refuses every later USER_MSG on the socket until the refused id comes again; a resend from it keeps the typed order", async () => {
    const [a, b] = [await Client.connect(uniqueUser("fast")), await Client.connect(uniqueUser("reader"))];
    const first = await pipeline(a, b.user, 15);

    await sleep(2000); // 5/s: the bucket has room for every resend
    // With tokens to spare, a later message is still held back: storing it now would put it before the refused one.
    a.send(msg(14, b.user));
    expect(answers(await a.drain()).refused.map((r) => r.ref)).toEqual(["m14"]);
    for (let i = first; i < 15; i++) a.send(msg(i, b.user));
    expect(answers(await a.drain())).toEqual({ acked: Array.from({ length: 15 - first }, (_, i) => `m${first + i}`), refused: [] });

    const got = await b.take(15);
    expect(got.map((f) => f.message)).toEqual(texts(0, 15));
    // Stored in the same order (this project keeps the newest 5 log rows).
    const stored = await apiJson(a.user, "GET", `/v1/conversations/${b.user}/messages`);
    expect(stored.messages.map((m: Frame) => m.message)).toEqual(texts(10, 15));
  });

  it("holds back only USER_MSGs on the refused socket: typing still goes through, and another socket starts clear", async () => {
    const me = uniqueUser("two-tabs");
    const b = await Client.connect(uniqueUser("peer"));
    const [tab1, tab2] = [await Client.connect(me), await Client.connect(me)];
    await pipeline(tab1, b.user, 14);
    await sleep(700); // 3 tokens
    tab1.send({ id: "t1", type: "EVENT_MSG", content: "TYPING", to: b.user, message: true });
    tab2.send({ id: "other-tab", to: b.user, type: "USER_MSG", content: "TEXT_MESSAGE", message: "from tab 2" });
    tab1.send(msg(13, b.user));
    // tab1's drain marker is a bad frame: it comes back as an ERROR of its own, not held back.
    expect(answers(await tab1.drain()).refused.map((r) => r.ref)).toEqual(["m13"]);
    expect(await tab2.ack("other-tab")).toMatchObject({ content: "MESSAGE_RECEIVED" });
    expect(await b.expect({ type: "EVENT_MSG", content: "TYPING" })).toMatchObject({ from: me, message: true });
  });

  it("does not count held-back refusals toward the abuse close, but does count the refused id refused again", async () => {
    const [a, b] = [await Client.connect(uniqueUser("pipeliner")), await Client.connect(uniqueUser("b"))];
    // A client that pipelined a long backlog: one refusal, then the rest held back; the socket stays up.
    const first = await pipeline(a, b.user, 40);
    expect(a.closed).toBeNull();
    // A client that keeps resending the refused id without waiting is closed as before.
    for (let i = 0; i < 20; i++) a.send(msg(first, b.user));
    expect(await a.closing()).toEqual({ code: 1008, reason: "rate limit exceeded repeatedly" });
  });
});
