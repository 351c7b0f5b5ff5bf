/**
 * The client library's safety calls against the fake server of fakes.ts:
 * block, unblock, blocks, report and updateConversation send the routes of
 * PROTOCOL.md (Blocking, reports and conversation settings) with their
 * bodies and return the answers; refusals are ApiErrors; the archive's page
 * leaves the unread counts alone; SETTINGS_CHANGED frames become `settings`
 * events. client-safety-e2e.test.ts proves them against the real Worker.
 */
import { describe, expect, it } from "vitest";
import { ApiError, type SettingsChangedFrame, type UnreadChange } from "../../src/client/index.ts";
import { conv, FakeHttp, FakeSocket, listing, makeClient, T, useFakeServer } from "./fakes.ts";

useFakeServer();

describe("blocks, reports and conversation settings", () => {
  it("sends each call's route and body, and returns the server's answer", async () => {
    const http = new FakeHttp();
    const muted = { ...conv("rick", 4, 1), mutedUntil: "2026-12-01T18:00:00Z", pinned: true };
    http.answer = (url) => {
      if (url.pathname === "/v1/blocks") return { body: { blocked: [{ user: "morty", since: T }] } };
      if (url.pathname.startsWith("/v1/blocks/")) return { status: 204, body: undefined };
      if (url.pathname === "/v1/reports") return { status: 201, body: { id: "r-1" } };
      return { body: muted };
    };
    const { client } = makeClient({ fetch: http.fetch });
    await client.block("morty smith");
    await client.unblock("morty smith");
    await expect(client.blocks()).resolves.toEqual([{ user: "morty", since: T }]);
    await expect(client.report({ conversation: "rick", messages: ["s1"], reason: "spam", note: "ads" })).resolves.toBe("r-1");
    await expect(client.updateConversation("group:9b1", { mutedUntil: "2026-12-01T18:00:00Z", pinned: true })).resolves.toEqual(muted);
    expect(http.requests.map((r) => [r.method, r.url.pathname, r.body])).toEqual([
      ["PUT", "/v1/blocks/morty%20smith", undefined],
      ["DELETE", "/v1/blocks/morty%20smith", undefined],
      ["GET", "/v1/blocks", undefined],
      ["POST", "/v1/reports", { conversation: "rick", messages: ["s1"], reason: "spam", note: "ads" }],
      ["PATCH", "/v1/conversations/group%3A9b1", { mutedUntil: "2026-12-01T18:00:00Z", pinned: true }],
    ]);
  });

  it("rejects with the server's refusal as an ApiError (a 429 report, a 404 conversation, an answer of another shape)", async () => {
    const http = new FakeHttp();
    const { client } = makeClient({ fetch: http.fetch });
    http.answer = () => ({ status: 429, body: { error: "too_many_reports", reason: "at most 20 reports in 24 hours" } });
    const refused = client.report({ conversation: "rick", user: "rick", reason: "other" });
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ status: 429, error: "too_many_reports" });
    http.answer = () => ({ status: 404, body: { error: "not_found", reason: "you have no conversation x" } });
    await expect(client.updateConversation("x", { archived: true })).rejects.toMatchObject({ status: 404, error: "not_found" });
    http.answer = () => ({ body: { blocked: [{ user: 7 }] } });
    await expect(client.blocks()).rejects.toMatchObject({ error: "bad_response" });
  });

  it("lists the archive with ?archived=true, and leaves the unread counts to the main list", async () => {
    const http = new FakeHttp();
    const { client } = makeClient({ fetch: http.fetch });
    const changes: UnreadChange[] = [];
    client.on("unread", (u) => changes.push(u));
    http.answer = (url) =>
      url.searchParams.get("archived") === "true"
        ? { body: listing([{ ...conv("old", 2, 4), archived: true }], null, 7) }
        : { body: listing([conv("rick", 9, 3)], null, 7) };
    await client.conversations();
    await client.conversations({ archived: true });
    expect(http.paths).toEqual(["/v1/conversations", "/v1/conversations?archived=true"]);
    expect(changes.map((c) => c.total)).toEqual([7]);
  });

  it("hands block and conversation SETTINGS_CHANGED frames over as settings events, once each", async () => {
    const { client } = makeClient();
    const got: SettingsChangedFrame[] = [];
    client.on("settings", (s) => got.push(s));
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept();
    const frame = (seq: number, message: object) => ({
      id: `x${seq}`,
      from: "system",
      to: "me",
      type: "SYSTEM_MSG",
      time: T,
      content: "SETTINGS_CHANGED",
      message,
      seq,
    });
    ws.receive(frame(6, { block: { user: "morty", on: true } }));
    ws.receive(frame(7, { conversation: "rick", mutedUntil: null, archived: true }));
    ws.receive(frame(7, { conversation: "rick", mutedUntil: null, archived: true }));
    expect(got.map((s) => s.message)).toEqual([
      { block: { user: "morty", on: true } },
      { conversation: "rick", mutedUntil: null, archived: true },
    ]);
  });
});
