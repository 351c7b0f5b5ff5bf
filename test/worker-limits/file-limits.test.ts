/**
 * The file limits (PROTOCOL.md, Files) with the "worker-limits" project's
 * small values: MAX_FILE_BYTES 2048 (413 beyond, checked from the length
 * before any byte is stored) and MAX_FILE_BYTES_PER_DAY 5000 (429 beyond),
 * counted per uploader in the uploader's own object, across conversations,
 * and not given back by deleting a file. The request body limit of JSON
 * routes (MAX_MESSAGE_BYTES, 1024 here) does not apply to uploads.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { expectRefused, tokenFor, uniqueUser } from "../worker/helpers.ts";

async function send(user: string, conversation: string, size: number): Promise<Response> {
  return exports.default.fetch(`http://edge.test/v1/files?conversation=${encodeURIComponent(conversation)}&name=f.bin`, {
    method: "POST",
    headers: { Authorization: `Bearer ${await tokenFor(user)}` },
    body: new Uint8Array(size),
  });
}

describe("file limits", () => {
  it("a file over MAX_FILE_BYTES gets 413 and stores nothing; one of exactly that size is taken", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    await expectRefused(await send(rick, morty, 2049), 413, "too_large");
    const listed = await env.FILES.list({ include: ["customMetadata"] });
    expect(listed.objects.filter((o) => o.customMetadata?.uploader === rick)).toEqual([]);
    expect((await send(rick, morty, 2048)).status).toBe(201);
  });

  it("MAX_FILE_BYTES_PER_DAY counts a user's uploads to every conversation; beyond it 429, and a delete gives nothing back", async () => {
    const [rick, morty, summer] = [uniqueUser("rick"), uniqueUser("morty"), uniqueUser("summer")];
    expect((await send(rick, morty, 2000)).status).toBe(201);
    const second = (await (await send(rick, summer, 2000)).json()) as { file: string };
    // 4000 used: 1000 more fits, 1001 does not.
    await expectRefused(await send(rick, morty, 1001), 429, "quota_exceeded");
    const deleted = await exports.default.fetch(`http://edge.test/v1/files/${second.file}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${await tokenFor(rick)}` },
    });
    expect(deleted.status).toBe(204);
    await expectRefused(await send(rick, morty, 1001), 429, "quota_exceeded");
    expect((await send(rick, morty, 1000)).status).toBe(201);
    await expectRefused(await send(rick, morty, 1), 429, "quota_exceeded");
    // Another user's allowance is their own.
    expect((await send(morty, rick, 2000)).status).toBe(201);
  });
});
