/**
 * Files (PROTOCOL.md, Files; DESIGN.md invariant 8) against the real Worker,
 * real objects and the pool's local R2 bucket: upload and download with
 * Range, who may read (uploader, direct peer, current group member) and who
 * is told there is no such file, delete by the uploader, the serving headers
 * that keep a file from running as a page of the app's origin, every bad
 * input the issue lists, an upload cut off midway (no file, no charge),
 * retention and erasure. The limits (413, 429) are in worker-limits/files;
 * what a browser does with the headers is in node/browser-files.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, createGroup, expectRefused, tokenFor, UUID, uniqueUser } from "./helpers.ts";

const bytes = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

async function send(user: string, conversation: string, body: BodyInit | null, opts: { name?: string; type?: string }): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${await tokenFor(user)}` };
  if (opts.type !== undefined) headers["Content-Type"] = opts.type;
  const query = `conversation=${encodeURIComponent(conversation)}&name=${encodeURIComponent(opts.name ?? "photo.png")}`;
  return exports.default.fetch(`http://edge.test/v1/files?${query}`, { method: "POST", headers, body });
}

async function stored(user: string, conversation: string, body: Uint8Array, opts: { name?: string; type?: string } = {}) {
  const res = await send(user, conversation, body, opts);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${text}`);
  return JSON.parse(text) as { file: string; conversation: string; name: string; type: string; size: number; created: string; url: string };
}

const get = (user: string, file: string, headers: Record<string, string> = {}) => api(user, "GET", `/v1/files/${file}`, undefined, headers);

describe("upload and download", () => {
  it("stores the bytes in R2 and serves them to the uploader and the direct peer, with the file's description", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const data = bytes(300_000);
    const file = await stored(rick, morty, data, { name: "Portal gun.png", type: "image/png" });
    expect(file).toEqual({
      file: expect.stringMatching(UUID),
      conversation: morty,
      name: "Portal gun.png",
      type: "image/png",
      size: data.length,
      created: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      url: `/v1/files/${file.file}`,
    });
    for (const who of [rick, morty]) {
      const res = await get(who, file.file);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe(String(data.length));
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(data);
    }
    const object = await env.FILES.head(file.file);
    expect(object?.customMetadata).toMatchObject({ uploader: rick, conversation: morty, name: "Portal gun.png" });
  });

  it("answers 404 in the error shape to anyone else, as for a file that does not exist", async () => {
    const [rick, morty, summer] = [uniqueUser("rick"), uniqueUser("morty"), uniqueUser("summer")];
    const file = await stored(rick, morty, bytes(10));
    await expectRefused(await get(summer, file.file), 404, "not_found");
    await expectRefused(await get(summer, crypto.randomUUID()), 404, "not_found");
    await expectRefused(await api(summer, "DELETE", `/v1/files/${file.file}`), 404, "not_found");
  });

  it("takes the token as ?Authentication= too (a link opened by URL), and refuses a request without one", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, bytes(5));
    const res = await exports.default.fetch(`http://edge.test${file.url}?Authentication=${await tokenFor(morty)}`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes(5));
    await expectRefused(await exports.default.fetch(`http://edge.test${file.url}`), 401, "missing_token");
  });

  it("stores notes to self and an empty file", async () => {
    const rick = uniqueUser("rick");
    const file = await stored(rick, rick, new Uint8Array(0), { name: "empty.txt" });
    expect(file.size).toBe(0);
    const res = await get(rick, file.file);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe("Range", () => {
  const data = bytes(1000);
  const cases: [string, number, [number, number] | null][] = [
    ["bytes=0-99", 206, [0, 99]],
    ["bytes=990-", 206, [990, 999]],
    ["bytes=-10", 206, [990, 999]],
    ["bytes=500-5000", 206, [500, 999]],
    ["bytes=0-1,5-6", 200, null],
    ["pages=1-2", 200, null],
  ];
  it.each(cases)("%s gets %i", async (range, status, span) => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, data);
    const res = await get(morty, file.file, { Range: range });
    expect(res.status).toBe(status);
    const body = new Uint8Array(await res.arrayBuffer());
    if (span === null) {
      expect(body).toEqual(data);
      return;
    }
    expect(res.headers.get("content-range")).toBe(`bytes ${span[0]}-${span[1]}/1000`);
    expect(body).toEqual(data.slice(span[0], span[1] + 1));
  });

  it("a Range that cannot be satisfied gets 416 with the file's size", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, data);
    for (const range of ["bytes=1000-", "bytes=5000-6000", "bytes=-0"]) {
      const res = await get(morty, file.file, { Range: range });
      expect(res.headers.get("content-range")).toBe("bytes */1000");
      await expectRefused(res, 416, "range_not_satisfiable");
    }
  });
});

describe("safe serving", () => {
  const inline: [string | undefined, string][] = [
    ["image/png", "image/png"],
    ["image/jpeg", "image/jpeg"],
    ["image/gif", "image/gif"],
    ["image/webp", "image/webp"],
    ["image/avif", "image/avif"],
    ["audio/ogg; codecs=opus", "audio/ogg"],
    ["video/mp4", "video/mp4"],
  ];
  const attachment = [
    undefined,
    "image/svg+xml",
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "application/pdf",
    "text/plain",
    "IMAGE/SVG+XML",
  ];

  it.each(inline)("%s is served inline as %s", async (type, served) => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, bytes(4), { type, name: "a.bin" });
    const res = await get(morty, file.file);
    await res.arrayBuffer();
    expect(res.headers.get("content-type")).toBe(served);
    expect(res.headers.get("content-disposition")).toBe(`inline; filename="a.bin"; filename*=UTF-8''a.bin`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("sandbox");
  });

  it.each(attachment)("%s is an attachment of type application/octet-stream", async (type) => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, new TextEncoder().encode("<script>alert(1)</script>"), { type, name: "page.html" });
    expect(file.type).toBe(type ?? "application/octet-stream");
    const res = await get(morty, file.file);
    await res.arrayBuffer();
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="page.html"/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("sandbox");
  });

  it("names a file with quotes and non-ASCII characters safely in Content-Disposition", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, bytes(3), { name: 'résumé "final".pdf' });
    const res = await get(morty, file.file);
    await res.arrayBuffer();
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''${encodeURIComponent('résumé "final".pdf')}`,
    );
  });
});

describe("groups", () => {
  it("members upload and download; non-members, former members and unknown groups get 404", async () => {
    const [rick, morty, summer, jerry] = [uniqueUser("rick"), uniqueUser("morty"), uniqueUser("summer"), uniqueUser("jerry")];
    const group = await createGroup(rick, [morty, summer]);
    const file = await stored(morty, group, bytes(64));
    expect((await get(summer, file.file)).status).toBe(200);
    await expectRefused(await get(jerry, file.file), 404, "not_found");
    await expectRefused(await send(jerry, group, bytes(1), {}), 404, "not_found");
    await expectRefused(await send(jerry, `group:${crypto.randomUUID()}`, bytes(1), {}), 404, "not_found");
    await expectRefused(await send(jerry, "system", bytes(1), {}), 404, "not_found");

    // Removed: refused from the next request on.
    expect((await api(rick, "DELETE", `/v1/groups/${group}/members/${summer}`)).status).toBe(200);
    await expectRefused(await get(summer, file.file), 404, "not_found");
    await expectRefused(await send(summer, group, bytes(1), {}), 404, "not_found");

    // The uploader keeps their own file after leaving, and may delete it.
    expect((await api(morty, "DELETE", `/v1/groups/${group}/members/${morty}`)).status).toBe(200);
    expect((await get(morty, file.file)).status).toBe(200);
    expect((await get(rick, file.file)).status).toBe(200);
    expect((await api(morty, "DELETE", `/v1/files/${file.file}`)).status).toBe(204);
    await expectRefused(await get(rick, file.file), 404, "not_found");
  });
});

describe("delete", () => {
  it("by the uploader: 204, the bytes leave R2, and everyone gets 404; the peer may not delete (403)", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const file = await stored(rick, morty, bytes(100));
    await expectRefused(await api(morty, "DELETE", `/v1/files/${file.file}`), 403, "forbidden");
    expect(await env.FILES.head(file.file)).not.toBeNull();
    expect((await api(rick, "DELETE", `/v1/files/${file.file}`)).status).toBe(204);
    expect(await env.FILES.head(file.file)).toBeNull();
    for (const who of [rick, morty]) await expectRefused(await get(who, file.file), 404, "not_found");
    await expectRefused(await api(rick, "DELETE", `/v1/files/${file.file}`), 404, "not_found");
  });
});

describe("bad input", () => {
  it("a file id that is not ours (wrong shape, path separators, ..) gets 404", async () => {
    const rick = uniqueUser("rick");
    for (const id of [
      "abc",
      "..",
      "%2e%2e",
      "..%2Fsecret",
      "a%2Fb",
      "a%5Cb",
      `${crypto.randomUUID()}x`,
      crypto.randomUUID().toUpperCase(),
    ]) {
      await expectRefused(await get(rick, id), 404, "not_found");
      await expectRefused(await api(rick, "DELETE", `/v1/files/${id}`), 404, "not_found");
    }
  });

  it("a name over 255 bytes, with control characters, empty or missing gets 400 bad_name", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    for (const name of ["é".repeat(128), "a\nb.txt", "tab\there", "nul\u0000", "del\u007f", ""]) {
      await expectRefused(await send(rick, morty, bytes(1), { name }), 400, "bad_name");
    }
    expect((await stored(rick, morty, bytes(1), { name: "é".repeat(127) })).name).toBe("é".repeat(127));
    const res = await exports.default.fetch(`http://edge.test/v1/files?conversation=${morty}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${await tokenFor(rick)}` },
      body: bytes(1),
    });
    await expectRefused(res, 400, "bad_name");
  });

  it("an upload without a length (chunked) gets 411", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const body = new ReadableStream({
      start(c) {
        c.enqueue(bytes(10));
        c.close();
      },
    });
    await expectRefused(await send(rick, morty, body, {}), 411, "length_required");
  });

  it("an upload cut off after 1 MiB leaves no file and no charge", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const { readable, writable } = new FixedLengthStream(4 * 1024 * 1024);
    const writer = writable.getWriter();
    const answer = send(rick, morty, readable, { name: "cut.bin" });
    await writer.write(bytes(1024 * 1024));
    await writer.abort(new Error("the client went away"));
    expect((await answer).status).toBe(500);
    const listed = await env.FILES.list({ include: ["customMetadata"] });
    expect(listed.objects.filter((o) => o.customMetadata?.uploader === rick)).toEqual([]);
    const rows = await runInDurableObject(env.USERS.getByName(rick), (_o, state) => ({
      files: state.storage.sql.exec("SELECT * FROM files").toArray(),
      bytes: state.storage.sql.exec<{ bytes: number }>("SELECT coalesce(sum(bytes), 0) AS bytes FROM file_bytes").one().bytes,
    }));
    expect(rows).toEqual({ files: [], bytes: 0 });
  });
});

describe("retention and erasure", () => {
  it("files follow RETENTION_DAYS: the uploader's alarm removes one older than that from R2", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const old = await stored(rick, morty, bytes(10));
    const young = await stored(rick, morty, bytes(10));
    const stub = env.USERS.getByName(rick);
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec("UPDATE files SET created = created - 31 * 86400000 WHERE id = ?", old.file);
    });
    await runDurableObjectAlarm(stub);
    expect(await env.FILES.head(old.file)).toBeNull();
    await expectRefused(await get(morty, old.file), 404, "not_found");
    expect((await get(morty, young.file)).status).toBe(200);
  });

  it("erasing a user (DELETE /v1/admin/users/<user>) deletes their files", async () => {
    const [rick, morty] = [uniqueUser("rick"), uniqueUser("morty")];
    const mine = await stored(rick, morty, bytes(10));
    const theirs = await stored(morty, rick, bytes(10));
    const res = await exports.default.fetch(`http://edge.test/v1/admin/users/${rick}`, {
      method: "DELETE",
      headers: { Authorization: "Bearer test-api-key" },
    });
    expect(res.status).toBe(204);
    expect(await env.FILES.head(mine.file)).toBeNull();
    await expectRefused(await get(morty, mine.file), 404, "not_found");
    expect((await get(morty, theirs.file)).status).toBe(200);
  });
});
