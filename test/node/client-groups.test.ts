/**
 * The client library's groups, against the fake server of fakes.ts: the
 * group routes (method, path, body, headers, refusals, the shape check),
 * group frames through the outbox and the resume cursor (GROUP_EVENT once,
 * live receipts without seq that leave the cursor alone, the sender's copy
 * from another device), and a message refused after its ack (the `refused`
 * event, or a rejected `acked` when the replayed refusal beats the ack).
 * client-e2e.test.ts proves the same against the real Worker.
 */
import { describe, expect, it, vi } from "vitest";
import { ApiError, SendError } from "../../src/client/index.ts";
import {
  ack,
  conv,
  error,
  FakeHttp,
  FakeSocket,
  G,
  groupEvent,
  jwt,
  listing,
  makeClient,
  msg,
  receipt,
  T,
  useFakeServer,
} from "./fakes.ts";

useFakeServer();

const member = (user: string, role = "member") => ({ user, role, joined: T, deliveredUpTo: null, readUpTo: null });
const group = (...members: ReturnType<typeof member>[]) => ({ id: G, name: "Launch", created: T, members });
/** A message to the group, as a member's socket gets it. */
const groupMsg = (seq: number, from = "rick", text = `g${seq}`) => ({ ...msg(seq, text, from), to: G });
/** A group message's receipt: live only, no seq. */
const liveReceipt = (from: string, serverId: string, content = "MESSAGE_READ") => {
  const { seq: _, ...frame } = { ...receipt(1, serverId, content), from };
  return frame;
};

describe("group routes", () => {
  it("call /v1/groups with the method, path, body and headers of each route, and return the group", async () => {
    const http = new FakeHttp();
    const answer = group(member("me", "admin"), member("rick"));
    http.answer = () => ({ body: answer });
    const { client } = makeClient({ fetch: http.fetch });
    await expect(client.createGroup({ name: "Launch", members: ["rick"], idempotencyKey: "k-1" })).resolves.toEqual(answer);
    await client.createGroup({ name: "Launch", members: [] });
    await client.getGroup(G);
    await client.renameGroup(G, "Liftoff");
    await client.addMember(G, "morty");
    await client.addMember(G, "summer", "admin");
    await client.setRole(G, "rick", "admin");
    await client.removeMember(G, "bird/person");
    expect(http.requests.map((r) => [r.method, r.url.pathname, r.body])).toEqual([
      ["POST", "/v1/groups", { name: "Launch", members: ["rick"] }],
      ["POST", "/v1/groups", { name: "Launch", members: [] }],
      ["GET", `/v1/groups/${encodeURIComponent(G)}`, undefined],
      ["PATCH", `/v1/groups/${encodeURIComponent(G)}`, { name: "Liftoff" }],
      ["POST", `/v1/groups/${encodeURIComponent(G)}/members`, { user: "morty", role: "member" }],
      ["POST", `/v1/groups/${encodeURIComponent(G)}/members`, { user: "summer", role: "admin" }],
      ["PUT", `/v1/groups/${encodeURIComponent(G)}/members/rick`, { role: "admin" }],
      ["DELETE", `/v1/groups/${encodeURIComponent(G)}/members/bird%2Fperson`, undefined],
    ]);
    expect(http.requests[0]!.headers).toEqual({
      Authorization: "Bearer tok",
      "Content-Type": "application/json",
      "Idempotency-Key": "k-1",
    });
    expect(http.requests[1]!.headers).not.toHaveProperty("Idempotency-Key");
    expect(http.requests[2]!.headers).toEqual({ Authorization: "Bearer tok" });
  });

  it("leaves as the user the socket named, and cannot before it knows who that is", async () => {
    const http = new FakeHttp();
    http.answer = () => ({ body: group(member("rick", "admin")) });
    const { client } = makeClient({ fetch: http.fetch });
    await expect(client.leaveGroup(G)).rejects.toThrow(/connected/);
    expect(http.requests).toEqual([]);
    client.connect();
    FakeSocket.latest().accept(0, "summer");
    await client.leaveGroup(G);
    expect(http.requests.map((r) => [r.method, r.url.pathname])).toEqual([
      ["DELETE", `/v1/groups/${encodeURIComponent(G)}/members/summer`],
    ]);
  });

  it("throws refusals as an ApiError, checks the answer's shape, and retries a change once with a fresh token after a 401", async () => {
    const http = new FakeHttp();
    let n = 0;
    const { client } = makeClient({ fetch: http.fetch, token: async () => jwt(++n, 600) });
    http.answer = () => ({ status: 409, body: { error: "already_member", reason: "rick is already a member" } });
    await expect(client.addMember(G, "rick")).rejects.toEqual(new ApiError(409, "already_member", "rick is already a member"));
    http.answer = () => ({ body: { ...group(member("me", "admin")), members: [{ user: "me", role: "owner" }] } });
    await expect(client.getGroup(G)).rejects.toMatchObject({ error: "bad_response" });
    http.answer = () => ({ body: { ...group(), id: "rick" } });
    await expect(client.getGroup(G)).rejects.toMatchObject({ error: "bad_response" });

    // The token reused from the first call is refused: the same change again with a fresh one.
    http.answer = (_url, auth) =>
      auth === `Bearer ${jwt(1, 600)}` ? { status: 401, body: { error: "expired_token", reason: "exp" } } : { body: group() };
    await client.renameGroup(G, "Liftoff");
    expect(http.requests.slice(-2).map((r) => [r.method, r.authorization, r.body])).toEqual([
      ["PATCH", `Bearer ${jwt(1, 600)}`, { name: "Liftoff" }],
      ["PATCH", `Bearer ${jwt(2, 600)}`, { name: "Liftoff" }],
    ]);
  });
});

describe("group frames on the socket", () => {
  it("sends to a group through the outbox, and hands over the sender's copy from another device", async () => {
    const { client, seen } = makeClient();
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(0);
    const out = client.send(G, "hello all");
    expect(ws.frames).toEqual([{ id: out.id, to: G, type: "USER_MSG", content: "TEXT_MESSAGE", message: "hello all" }]);
    ws.receive(ack(out.id, "s-1"));
    await expect(out.acked).resolves.toMatchObject({ clientId: out.id, serverId: "s-1" });
    // This socket gets no copy of its own send; another device's send comes as a message.
    ws.receive(groupMsg(4, "me", "from my phone"));
    expect(seen.messages).toEqual(["from my phone"]);
    expect(client.lastSeq).toBe(4);
  });

  it("hands each GROUP_EVENT over once, and live receipts without moving the resume point", () => {
    const { client, seen } = makeClient({ since: 0 });
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(3);
    ws.receive(groupEvent(1, G, { event: "created", name: "Launch", members: [{ user: "rick", role: "admin" }] }));
    ws.receive(groupMsg(2));
    ws.receive(groupEvent(3, G, { event: "member_added", user: "morty", role: "member", name: "Launch" }));
    ws.pong();
    // Members' receipts of my group message, and my own read copied from another tab: no seq.
    ws.receive(liveReceipt("rick", "s-mine", "MESSAGE_DELIVERED"));
    ws.receive(liveReceipt("morty", "s-mine"));
    ws.receive({ ...liveReceipt("me", "g2"), to: "rick" });
    expect(seen.groupEvents.map((g) => [g.seq, g.message.event])).toEqual([
      [1, "created"],
      [3, "member_added"],
    ]);
    expect(seen.receipts).toEqual(["s-mine", "s-mine", "g2"]);
    expect(client.lastSeq).toBe(3);

    ws.drop();
    vi.advanceTimersByTime(1000);
    ws = FakeSocket.latest();
    expect(ws.query.get("since")).toBe("3");
    ws.accept(4);
    // A replay that overlaps what was seen: only the new event is handed over.
    ws.receive(groupEvent(3, G, { event: "member_added", user: "morty", role: "member", name: "Launch" }));
    ws.receive(groupEvent(4, G, { event: "renamed", name: "Liftoff" }, "morty"));
    expect(seen.groupEvents.map((g) => g.seq)).toEqual([1, 3, 4]);
    expect(seen.messages).toEqual(["g2"]);
  });

  it("counts a group's incoming messages under the group, not the sender", async () => {
    const http = new FakeHttp();
    http.answer = () => ({ body: listing([{ ...conv(G, 5, 1), kind: "group", name: "Launch" }]) });
    const { client, seen } = makeClient({ fetch: http.fetch });
    client.connect();
    const ws = FakeSocket.latest();
    ws.accept(5);
    await client.conversations();
    ws.receive(groupMsg(6));
    ws.receive(groupMsg(7, "me"));
    expect(seen.unread.at(-1)).toEqual({ total: 2, conversations: [{ id: G, unread: 2 }] });
  });
});

describe("a group message refused after its ack", () => {
  const lateRefusal = (seq: number, clientId: string, serverId: string) => ({
    ...error("FORBIDDEN", clientId),
    message: {
      code: "FORBIDDEN",
      reason: "you were no longer a member of the group when it got your message",
      ref: clientId,
      id: serverId,
    },
    seq,
  });

  it("is a `refused` event with both ids, once, however often it is replayed", async () => {
    const { client, seen } = makeClient();
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(0);
    ws.pong();
    const out = client.send(G, "too late");
    ws.receive(ack(out.id, "s-9"));
    await expect(out.acked).resolves.toMatchObject({ serverId: "s-9" });
    ws.receive(lateRefusal(5, out.id, "s-9"));
    const refusal = {
      clientId: out.id,
      serverId: "s-9",
      code: "FORBIDDEN",
      reason: "you were no longer a member of the group when it got your message",
    };
    expect(seen.refused).toEqual([refusal]);
    expect(seen.errors).toEqual(["FORBIDDEN"]);
    expect(client.lastSeq).toBe(5);

    ws.drop();
    vi.advanceTimersByTime(1000);
    ws = FakeSocket.latest();
    ws.accept(5);
    ws.receive(lateRefusal(5, out.id, "s-9"));
    expect(seen.refused).toEqual([refusal]);
    expect(seen.errors).toEqual(["FORBIDDEN"]);
  });

  it("rejects `acked` when the replayed refusal comes before the resend's ack, and the message is not sent again", async () => {
    const { client, seen } = makeClient({ since: 0 });
    client.connect();
    let ws = FakeSocket.latest();
    ws.accept(0);
    const out = client.send(G, "lost ack");
    // The ack is lost with the socket; meanwhile the sender was removed and the group refused the message.
    ws.drop();
    vi.advanceTimersByTime(1000);
    ws = FakeSocket.latest();
    ws.accept(6);
    expect(ws.frames.map((f) => f.id)).toEqual([out.id]);
    ws.receive(lateRefusal(6, out.id, "s-10"));
    ws.receive(ack(out.id, "s-10"));
    const err = await out.acked.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ code: "FORBIDDEN", clientId: out.id, serverId: "s-10" });
    expect(seen.refused).toMatchObject([{ clientId: out.id, serverId: "s-10" }]);
    expect(seen.acks).toEqual([]);
    expect(client.pendingCount).toBe(0);
    ws.drop();
    vi.advanceTimersByTime(1000);
    FakeSocket.latest().accept(6);
    expect(FakeSocket.latest().frames).toEqual([]);
  });
});
