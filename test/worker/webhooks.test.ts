/**
 * Webhooks (PROTOCOL.md, Webhooks) on real objects and the real queue
 * handler: a message or notice logged for a user with no open socket
 * produces one message.offline event in the same turn (none for a user with
 * a socket, none for the user's own copies, none without WEBHOOK_URL); the
 * payload only with WEBHOOK_INCLUDE_MESSAGE=on, byte for byte; the consumer
 * signs t and the raw body with WEBHOOK_SECRET, sends the event id, acks a
 * 2xx and retries anything else with growing delays; dead letters are
 * logged with their event id. The receiver is a stand-in for the app's
 * backend (fetch is stubbed); end to end through wrangler dev's queues:
 * test/node/webhooks.test.ts.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Envelope } from "../../src/envelope.ts";
import worker from "../../src/index.ts";
import { UserObject } from "../../src/user/object.ts";
import { DEAD_LETTER_QUEUE, retryDelaySeconds } from "../../src/webhooks/consumer.ts";
import type { QueuedEvent } from "../../src/webhooks/events.ts";
import { Client, directMessage, TIME, uniqueUser } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const HOOKS = { WEBHOOK_URL: "https://backend.example/hooks", WEBHOOK_SECRET: "whsec-test" };

/** Delivers through `user`'s real object, configured with `settings`; returns the events it queued. */
async function deliverWith(user: string, settings: Partial<Env>, envelopes: Envelope[]): Promise<QueuedEvent[]> {
  const queued: QueuedEvent[] = [];
  const send = env.WEBHOOKS.sendBatch.bind(env.WEBHOOKS);
  vi.spyOn(env.WEBHOOKS, "sendBatch").mockImplementation(async (batch) => {
    for (const m of batch) queued.push(m.body as QueuedEvent);
    return send(batch);
  });
  await runInDurableObject(env.USERS.getByName(user), async (_o, state) => {
    await new UserObject(state, { ...env, ...settings }).deliver(envelopes);
  });
  return queued;
}

describe("producing message.offline", () => {
  it("queues one event per message for a user with no open socket, without the payload", async () => {
    const rick = uniqueUser("rick");
    const m = directMessage("john", rick, '{"secret":"ciphertext"}');
    const events = await deliverWith(rick, HOOKS, [m]);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.body)).toEqual({
      id: events[0]!.id,
      type: "message.offline",
      time: expect.stringMatching(TIME),
      user: rick,
      conversation: "john",
      from: "john",
      messageId: m.id,
      content: "TEXT_MESSAGE",
    });
    // A retried delivery of the same frame is not logged again, so it queues nothing.
    expect(await deliverWith(rick, HOOKS, [m])).toEqual([]);
  });

  it("carries the payload byte for byte with WEBHOOK_INCLUDE_MESSAGE=on", async () => {
    const events = await deliverWith(uniqueUser("rick"), { ...HOOKS, WEBHOOK_INCLUDE_MESSAGE: "on" }, [
      directMessage("john", "x", '{"n":12345678901234567890}'),
    ]);
    expect(events[0]!.body).toContain('"message":{"n":12345678901234567890}');
  });

  it("queues nothing for a user with an open socket, for a receipt, or when WEBHOOK_URL is unset", async () => {
    const online = uniqueUser("online");
    const c = await Client.connect(online);
    expect(await deliverWith(online, HOOKS, [directMessage("john", online, '"hi"')])).toEqual([]);
    await c.expect({ type: "USER_MSG" });
    expect(await deliverWith(uniqueUser("off"), {}, [directMessage("john", "x", '"hi"')])).toEqual([]);
    const receipt: Envelope = { ...directMessage("john", "x", '"x"'), type: "ACK_MSG" };
    receipt.frame = `{"id":"${receipt.id}","from":"john","to":"x","type":"ACK_MSG","time":"2026-12-01T00:00:00Z","content":"MESSAGE_READ","message":"m"}`;
    expect(await deliverWith(uniqueUser("off"), HOOKS, [receipt])).toEqual([]);
  });
});

describe("the queue consumer", () => {
  const event: QueuedEvent = { id: "evt-1", body: '{"id":"evt-1","type":"message.offline","n":12345678901234567890}' };

  async function consume(queue: string, answer: () => Promise<Response>, attempts = 1) {
    const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(answer);
    const batch = createMessageBatch<QueuedEvent>(queue, [{ id: "q-1", timestamp: new Date(), attempts, body: event }]);
    // The test harness records that a message was retried, not its delay.
    const retry = vi.spyOn(batch.messages[0]!, "retry");
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ...HOOKS });
    return { result: await getQueueResult(batch, ctx), fetch, delays: retry.mock.calls.map((c) => c[0]?.delaySeconds) };
  }

  it("POSTs the raw body with the event id and a signature over t and the body; a 2xx acks it", async () => {
    const { result, fetch } = await consume("lunarloom-webhooks", async () => new Response("ok"));
    expect(result.explicitAcks).toEqual(["q-1"]);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe(HOOKS.WEBHOOK_URL);
    const headers = new Headers(init!.headers);
    expect(init!.method).toBe("POST");
    expect(init!.body).toBe(event.body);
    expect(headers.get("X-LunarLoom-Event-Id")).toBe("evt-1");
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers.get("X-LunarLoom-Signature")!)!;
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(5);
    // Verified as a receiver would, with Web Crypto.
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(HOOKS.WEBHOOK_SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const mac = Uint8Array.from(v1!.match(/../g)!.map((h) => Number.parseInt(h, 16)));
    expect(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode(`${t}.${event.body}`))).toBe(true);
    expect(init!.signal).toBeInstanceOf(AbortSignal);
  });

  it("retries a refusal or a failure with a delay that grows with the attempts", async () => {
    const refused = await consume("lunarloom-webhooks", async () => new Response("nope", { status: 500 }), 3);
    expect(refused.result.retryMessages).toEqual([{ msgId: "q-1" }]);
    expect(refused.delays).toEqual([32]);
    const down = await consume("lunarloom-webhooks", async () => {
      throw new Error("connection refused");
    });
    expect(down.result).toMatchObject({ retryMessages: [{ msgId: "q-1" }], explicitAcks: [] });
    expect(down.delays).toEqual([2]);
    expect([1, 2, 3, 4, 5, 6, 7].map(retryDelaySeconds)).toEqual([2, 8, 32, 128, 512, 2048, 3600]);
  });

  it("logs a dead letter with its event id and acks it, posting nothing", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { result, fetch } = await consume(DEAD_LETTER_QUEUE, async () => new Response("ok"), 9);
    expect(fetch).not.toHaveBeenCalled();
    expect(result.explicitAcks).toEqual(["q-1"]);
    expect(logged.mock.calls.map((c) => JSON.parse(c[0] as string))).toContainEqual({
      level: "error",
      event: "webhook_dead_letter",
      eventId: "evt-1",
      attempts: 9,
    });
  });
});
