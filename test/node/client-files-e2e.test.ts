/**
 * The client library's files against a real `wrangler dev` (its local R2):
 * upload() streams a 2 MiB file with its length, reports progress as the
 * bytes go out (several events, never going back, the last one complete),
 * and sends the FILE_MESSAGE that names it; the other user gets that
 * message as an event and download() brings back the same bytes. A refused
 * upload rejects with the server's ApiError. Node has no XMLHttpRequest, so
 * this is the fetch path; the browser's (XMLHttpRequest) runs in
 * browser-files.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, LunarLoomClient, type UploadProgress, type UserMsgFrame } from "../../src/client/index.ts";
import { type DevServer, startDevServer } from "./devserver.ts";
import { devToken, uniqueUser, until } from "./wsclient.ts";

let server: DevServer;
const clients: LunarLoomClient[] = [];

beforeAll(async () => {
  server = await startDevServer();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

function start(user: string) {
  const client = new LunarLoomClient({ url: server.url, token: () => devToken(server, user), backoff: { baseMs: 50, capMs: 400 } });
  clients.push(client);
  const messages: UserMsgFrame[] = [];
  client.on("message", (m) => messages.push(m));
  client.connect();
  return { client, messages };
}

describe("files through the client library", () => {
  it("upload() reports progress and sends the FILE_MESSAGE; the peer downloads the same bytes", async () => {
    const [johnId, rickId] = [uniqueUser("john"), uniqueUser("rick")];
    const john = start(johnId);
    const rick = start(rickId);
    const bytes = Uint8Array.from({ length: 2 * 1024 * 1024 }, (_, i) => (i * 7) & 0xff);
    const file = new File([bytes], "holiday.png", { type: "image/png" });
    const progress: UploadProgress[] = [];

    const { ref, message } = await john.client.upload(file, rickId, { onProgress: (p) => progress.push(p) });
    expect(ref).toEqual({ file: expect.any(String), name: "holiday.png", type: "image/png", size: bytes.length });
    await message.acked;

    expect(progress.length).toBeGreaterThan(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.loaded).toBeGreaterThanOrEqual(progress[i - 1]!.loaded);
    expect(progress.every((p) => p.total === bytes.length)).toBe(true);
    expect(progress.at(-1)).toEqual({ loaded: bytes.length, total: bytes.length });
    expect(progress.some((p) => p.loaded > 0 && p.loaded < bytes.length)).toBe(true);

    await until("rick has the FILE_MESSAGE", () => rick.messages.some((m) => m.content === "FILE_MESSAGE"));
    const got = rick.messages.find((m) => m.content === "FILE_MESSAGE")!;
    expect(got.message).toEqual(ref);
    const blob = await rick.client.download(ref.file);
    expect(blob.type).toBe("image/png");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
  });

  it("a refused upload rejects with the server's ApiError, and nothing is sent", async () => {
    const { client } = start(uniqueUser("summer"));
    const refused = await client.upload(new Blob(["hi"]), "system").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 404, error: "not_found" });
    expect(client.pendingCount).toBe(0);
    const missing = await client.download(crypto.randomUUID()).catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, error: "not_found" });
  });
});
