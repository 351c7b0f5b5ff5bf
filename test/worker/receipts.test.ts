/**
 * Receipts (PROTOCOL.md): MESSAGE_DELIVERED / MESSAGE_READ reach the original
 * sender's sockets now or on reconnect, once per kind; the recipient's other
 * sockets get a copy; forged receipts are refused and reach nobody.
 */
import { describe, expect, it } from "vitest";
import { Client, TIME, UUID, uniqueUser } from "./helpers.ts";

async function chat(): Promise<{ john: Client; rick: Client; serverId: string }> {
  const john = await Client.connect(uniqueUser("john"));
  const rick = await Client.connect(uniqueUser("rick"));
  const ack = await john.message(rick.user, "read me");
  await rick.next();
  return { john, rick, serverId: ack.message };
}

describe("receipts", () => {
  it("forwards delivered and read to the sender, in the documented shape", async () => {
    const { john, rick, serverId } = await chat();
    rick.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: serverId });
    rick.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    const [delivered, read] = await john.take(2);
    expect(delivered).toEqual({
      id: expect.stringMatching(UUID),
      from: rick.user,
      to: john.user,
      type: "ACK_MSG",
      time: expect.stringMatching(TIME),
      content: "MESSAGE_DELIVERED",
      message: serverId,
      seq: 2,
    });
    expect(read).toMatchObject({ from: rick.user, to: john.user, content: "MESSAGE_READ", message: serverId, seq: 3 });
    // A valid receipt gets no reply.
    await rick.expectNothingMore();
  });

  it("copies a receipt to the recipient's other sockets", async () => {
    const { john, rick, serverId } = await chat();
    const rick2 = await Client.connect(rick.user, { since: 1 });
    rick.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    expect(await rick2.next()).toMatchObject({ from: rick.user, to: john.user, content: "MESSAGE_READ", message: serverId });
    expect(await john.next()).toMatchObject({ content: "MESSAGE_READ" });
  });

  it("tells the sender once per kind however often it is repeated", async () => {
    const { john, rick, serverId } = await chat();
    for (let i = 0; i < 3; i++) rick.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    expect(await john.next()).toMatchObject({ content: "MESSAGE_READ" });
    await john.expectNothingMore(100);
    await rick.expectNothingMore();
  });

  it("accepts the original server's spelling MESSAGE_DELIVERD as MESSAGE_DELIVERED, once with the right spelling", async () => {
    const { john, rick, serverId } = await chat();
    rick.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERD", message: serverId });
    expect(await john.next()).toMatchObject({ from: rick.user, content: "MESSAGE_DELIVERED", message: serverId });
    // The same receipt in today's spelling is a repeat: the sender is told once per kind.
    rick.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: serverId });
    await john.expectNothingMore(100);
    await rick.expectNothingMore();
  });

  it("reaches an offline sender when it next connects", async () => {
    const { john, rick, serverId } = await chat();
    john.close();
    // The server has answered the close: the receipt finds John with no socket, so it waits in his offline queue.
    await john.closing();
    rick.send({ type: "ACK_MSG", content: "MESSAGE_DELIVERED", message: serverId });
    await rick.expectNothingMore(100);
    const back = await Client.connect(john.user);
    expect(await back.next()).toMatchObject({ from: rick.user, content: "MESSAGE_DELIVERED", message: serverId });
    await back.expectNothingMore();
  });
});

describe("forged receipts", () => {
  it("refuses an unknown id with UNKNOWN_MESSAGE and tells nobody", async () => {
    const { john, rick } = await chat();
    rick.send({ id: "r-1", type: "ACK_MSG", content: "MESSAGE_READ", message: crypto.randomUUID() });
    expect(await rick.next()).toMatchObject({ content: "ERROR", message: { code: "UNKNOWN_MESSAGE", ref: "r-1" } });
    await john.expectNothingMore();
  });

  it("refuses acknowledging one's own sent message with FORBIDDEN", async () => {
    const { john, rick, serverId } = await chat();
    john.send({ id: "r-2", type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    expect(await john.next()).toMatchObject({ content: "ERROR", message: { code: "FORBIDDEN", ref: "r-2" } });
    await rick.expectNothingMore();
  });

  it("refuses a third party who knows the server id: it is not in their log", async () => {
    const { john, serverId } = await chat();
    const eve = await Client.connect(uniqueUser("eve"));
    eve.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    expect(await eve.next()).toMatchObject({ content: "ERROR", message: { code: "UNKNOWN_MESSAGE" } });
    await john.expectNothingMore();
  });

  it("refuses a receipt for a receipt", async () => {
    const { john, rick, serverId } = await chat();
    rick.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: serverId });
    const receipt = await john.next();
    john.send({ type: "ACK_MSG", content: "MESSAGE_READ", message: receipt.id });
    expect(await john.next()).toMatchObject({ content: "ERROR", message: { code: "UNKNOWN_MESSAGE" } });
    await rick.expectNothingMore();
  });

  it("refuses a receipt with a bad content with BAD_MESSAGE", async () => {
    const { rick, serverId } = await chat();
    rick.send({ type: "ACK_MSG", content: "MESSAGE_RECEIVED", message: serverId });
    expect(await rick.next()).toMatchObject({ content: "ERROR", message: { code: "BAD_MESSAGE" } });
  });
});
