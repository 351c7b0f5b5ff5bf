/**
 * Reports (PROTOCOL.md, Blocking, reports and conversation settings) on real
 * objects: POST /v1/reports answers 201 {id}; the evidence is taken from the
 * reporter's own log (each reported message as logged and up to 10 frames
 * before it in that conversation, anyone's, each once, oldest first) and is
 * kept as reported (a later delete for everyone does not change it); the
 * server API lists reports by status, oldest first, in pages, and resolves
 * them (the evidence goes); a user token reads none; REPORTS_PER_DAY (20)
 * per reporter, then 429; a report.created event goes to the webhook queue
 * and the consumer signs and POSTs it; bad input is 400 naming the field.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { REPORTS, ReportsObject } from "../../src/moderation/object.ts";
import type { QueuedEvent } from "../../src/webhooks/events.ts";
import { api, apiJson, type Client, createGroup, expectRefused, type Frame, uniqueUser, users } from "./helpers.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const admin = (method: string, path: string, body?: unknown) =>
  exports.default.fetch(`http://edge.test${path}`, {
    method,
    headers: { Authorization: "Bearer test-api-key", "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function adminJson(method: string, path: string, body?: unknown): Promise<Frame> {
  const res = await admin(method, path, body);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Frame;
}

/** Every report (open or resolved) filed by `reporter`, from the server API. */
async function reportsBy(reporter: string, status = "open"): Promise<Frame[]> {
  const out: Frame[] = [];
  let before: string | null = null;
  do {
    const page = await adminJson("GET", `/v1/admin/reports?status=${status}&limit=200${before === null ? "" : `&before=${before}`}`);
    out.push(...(page.reports as Frame[]).filter((r) => r.reporter === reporter));
    before = page.next as string | null;
  } while (before !== null);
  return out;
}

/** `from` and `to` write in turns; returns the server ids in order, once `to` holds the last. */
async function chat(a: Client, b: Client, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    const id = (await from.message(to.user, `m${i}`)).message as string;
    await to.expect({ id });
    ids.push(id);
  }
  return ids;
}

describe("POST /v1/reports", () => {
  it("files the report with the evidence from the reporter's own log: each message as logged and up to 10 before it, each once, oldest first", async () => {
    const [rick, morty] = await users("rick", "morty");
    const ids = await chat(rick, morty, 16);
    const filed = await apiJson(
      rick.user,
      "POST",
      "/v1/reports",
      {
        conversation: morty.user,
        messages: [ids[13], ids[3]],
        user: morty.user,
        reason: "harassment",
        note: "keeps going",
      },
      201,
    );
    expect(filed).toEqual({ id: expect.any(String) });
    const [report] = await reportsBy(rick.user);
    expect(report).toEqual({
      id: filed.id,
      reporter: rick.user,
      conversation: morty.user,
      user: morty.user,
      reason: "harassment",
      note: "keeps going",
      created: expect.any(String),
      status: "open",
      evidence: expect.any(Array),
    });
    // 0..3 for the first, 3..13 for the second: 0..13, once each.
    const evidence = report!.evidence as Frame[];
    expect(evidence.map((f) => f.id)).toEqual(ids.slice(0, 14));
    const history = (await apiJson(rick.user, "GET", `/v1/conversations/${morty.user}/messages`)).messages as Frame[];
    expect(evidence).toEqual(history.slice(0, 14).map(({ status: _status, ...f }) => f));
  });

  it("keeps the evidence as reported when the message is later deleted for everyone; resolving deletes the evidence", async () => {
    const [rick, morty] = await users("rick", "morty");
    const [bad] = await chat(morty, rick, 1);
    const { id } = await apiJson(rick.user, "POST", "/v1/reports", { conversation: morty.user, messages: [bad], reason: "spam" }, 201);
    morty.send({ id: "del", to: rick.user, type: "USER_MSG", content: "MESSAGE_DELETE", ref: bad });
    await morty.ack("del");
    await rick.expect({ content: "MESSAGE_DELETE" });
    const [kept] = await reportsBy(rick.user);
    expect((kept!.evidence as Frame[]).map((f) => f.message)).toEqual(["m0"]);
    const resolved = await adminJson("POST", `/v1/admin/reports/${id}/resolve`, { action: "warned morty" });
    expect(resolved).toMatchObject({ id, status: "resolved", action: "warned morty", resolved: expect.any(String), evidence: [] });
    expect(await reportsBy(rick.user)).toEqual([]);
    expect(await reportsBy(rick.user, "resolved")).toEqual([resolved]);
    // Again: the same report, as first resolved.
    expect(await adminJson("POST", `/v1/admin/reports/${id}/resolve`, { action: "other" })).toEqual(resolved);
    await expectRefused(await admin("POST", `/v1/admin/reports/${crypto.randomUUID()}/resolve`, { action: "x" }), 404, "not_found");
  });

  it("files a report of a user alone (no messages) in a conversation with them, and in a group of a member seen writing", async () => {
    const [rick, morty, jerry] = await users("rick", "morty", "jerry");
    await chat(morty, rick, 1);
    await apiJson(rick.user, "POST", "/v1/reports", { conversation: morty.user, user: morty.user, reason: "other" }, 201);
    const group = await createGroup(jerry.user, [rick.user]);
    await rick.expect({ content: "GROUP_EVENT" });
    const m = await jerry.message(group, "in the group");
    await rick.expect({ id: m.message });
    await apiJson(rick.user, "POST", "/v1/reports", { conversation: group, messages: [m.message], user: jerry.user, reason: "spam" }, 201);
    const mine = await reportsBy(rick.user);
    expect(mine.map((r) => [r.conversation, r.user, (r.evidence as Frame[]).length])).toEqual([
      [morty.user, morty.user, 0],
      [group, jerry.user, 2],
    ]);
  });

  it("refuses bad input with 400 naming the field, and files nothing", async () => {
    const [rick, morty, jerry] = await users("rick", "morty", "jerry");
    const [mine] = await chat(rick, morty, 1);
    const [elsewhere] = await chat(jerry, rick, 1);
    const cases: [unknown, string, RegExp][] = [
      [{ conversation: morty.user, reason: "spam" }, "bad_messages", /^messages/],
      [{ conversation: morty.user, messages: [mine], reason: "rude" }, "bad_reason", /^reason/],
      [{ conversation: morty.user, messages: [mine], reason: "spam", note: "x".repeat(1001) }, "bad_note", /^note/],
      [{ conversation: morty.user, messages: Array.from({ length: 21 }, () => mine), reason: "spam" }, "bad_messages", /^messages/],
      [{ conversation: morty.user, messages: [mine, "not-in-my-log"], reason: "spam" }, "bad_messages", /^messages\.1: .*not-in-my-log/],
      [{ conversation: morty.user, messages: [elsewhere], reason: "spam" }, "bad_messages", /^messages\.0: .*not in conversation/],
      [{ conversation: morty.user, messages: [mine], user: jerry.user, reason: "spam" }, "bad_user", /^user/],
      [{ conversation: morty.user, user: rick.user, reason: "spam" }, "bad_user", /^user/],
      [{ conversation: uniqueUser("stranger"), user: morty.user, reason: "spam" }, "bad_conversation", /^conversation/],
    ];
    for (const [body, error, reason] of cases) {
      expect(await expectRefused(await api(rick.user, "POST", "/v1/reports", body), 400, error)).toMatch(reason);
    }
    expect(await reportsBy(rick.user)).toEqual([]);
  });

  it(`allows REPORTS_PER_DAY (20) per reporter in 24 hours, then 429; another reporter is not counted with them`, async () => {
    const [rick, morty] = await users("rick", "morty");
    const [m] = await chat(morty, rick, 1);
    const report = { conversation: morty.user, messages: [m], reason: "spam" };
    for (let i = 0; i < 20; i++) await apiJson(rick.user, "POST", "/v1/reports", report, 201);
    await expectRefused(await api(rick.user, "POST", "/v1/reports", report), 429, "too_many_reports");
    await apiJson(morty.user, "POST", "/v1/reports", { conversation: rick.user, user: rick.user, reason: "other" }, 201);
    expect(await reportsBy(rick.user)).toHaveLength(20);
  });

  it("a user token reads no report: the admin routes answer 401 invalid_api_key, and there is no user route", async () => {
    const rick = uniqueUser("rick");
    await expectRefused(await api(rick, "GET", "/v1/admin/reports?status=open"), 401, "invalid_api_key");
    await expectRefused(
      await api(rick, "POST", `/v1/admin/reports/${crypto.randomUUID()}/resolve`, { action: "x" }),
      401,
      "invalid_api_key",
    );
    expect((await api(rick, "GET", "/v1/reports")).status).toBe(404);
    await expectRefused(await exports.default.fetch("http://edge.test/v1/reports", { method: "POST" }), 401, "missing_token");
    await expectRefused(await admin("GET", "/v1/admin/reports?status=closed"), 400, "bad_status");
  });
});

describe("report.created", () => {
  it("goes to the webhook queue with the report and its evidence, and the consumer POSTs it signed", async () => {
    const queued: QueuedEvent[] = [];
    const send = env.WEBHOOKS.send.bind(env.WEBHOOKS);
    vi.spyOn(env.WEBHOOKS, "send").mockImplementation(async (body) => {
      queued.push(body as QueuedEvent);
      return send(body);
    });
    const hooks = { WEBHOOK_URL: "https://backend.example/hooks", WEBHOOK_SECRET: "whsec-test" };
    const reporter = uniqueUser("rick");
    const evidence = [
      '{"id":"m1","from":"morty","to":"rick","type":"USER_MSG","time":"2026-12-01T10:00:00Z","content":"TEXT_MESSAGE","message":"x","seq":1}',
    ];
    const filed = await runInDurableObject(env.REPORTS.getByName(REPORTS), (_o, state) =>
      new ReportsObject(state, { ...env, ...hooks }).file({
        reporter,
        conversation: "morty",
        user: "morty",
        reason: "spam",
        note: null,
        evidence,
      }),
    );
    expect(filed).toEqual({ ok: true, id: expect.any(String) });
    expect(queued).toHaveLength(1);
    const event = JSON.parse(queued[0]!.body);
    expect(event).toEqual({
      id: queued[0]!.id,
      type: "report.created",
      time: expect.any(String),
      report: expect.objectContaining({ id: (filed as { id: string }).id, reporter, status: "open", evidence: [JSON.parse(evidence[0]!)] }),
    });
    const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response("ok"));
    const batch = createMessageBatch<QueuedEvent>("lunarloom-webhooks", [
      { id: "q-1", timestamp: new Date(), attempts: 1, body: queued[0]! },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, ...hooks });
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["q-1"]);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe(hooks.WEBHOOK_URL);
    expect(init!.body).toBe(queued[0]!.body);
    expect(new Headers(init!.headers).get("X-LunarLoom-Signature")).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });
});
