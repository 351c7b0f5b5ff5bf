/**
 * /v1/files (PROTOCOL.md, Files): uploads stream from the request straight
 * into R2 (never buffered whole: a known length is all R2 needs), downloads
 * stream back out with Range support, and the uploader deletes. Each upload
 * is charged to the uploader's daily allowance in their own object first,
 * and refunded if its bytes never arrive whole.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { readConfig } from "../config.ts";
import { type FileMeta, isFileId, mayRead, mayUpload, metaOf } from "../files/access.ts";
import { parseRange, servingHeaders } from "../files/serving.ts";
import { httpError, typed } from "./errors.ts";
import { router } from "./router.ts";
import { errors, Id, json } from "./schemas.ts";

const MAX_NAME_BYTES = 255;
const MAX_TYPE_LENGTH = 255;

const FileName = z
  .string()
  .refine((n) => n.length > 0 && new TextEncoder().encode(n).length <= MAX_NAME_BYTES, { error: `must be 1 to ${MAX_NAME_BYTES} bytes` })
  .refine((n) => !/\p{Cc}/u.test(n), { error: "must not contain control characters" })
  .openapi({ example: "photo.jpg" });

export const FileInfo = z
  .object({
    file: z.string().openapi({ example: "5f0c6a2e-8d1b-4c3e-9a7f-2b6d4e8f1a3c" }),
    conversation: z.string().openapi({ example: "rick" }),
    name: z.string(),
    type: z.string().openapi({ example: "image/jpeg" }),
    size: z.number().int(),
    created: z.string().openapi({ example: "2026-12-01T10:00:00Z" }),
    url: z.string().openapi({ example: "/v1/files/5f0c6a2e-8d1b-4c3e-9a7f-2b6d4e8f1a3c" }),
  })
  .openapi("File");

const FileParam = z.object({ id: z.string().openapi({ example: "5f0c6a2e-8d1b-4c3e-9a7f-2b6d4e8f1a3c" }) });

const upload = createRoute({
  method: "post",
  path: "/",
  summary: "Upload a file into a conversation (the body is the bytes; send a FILE_MESSAGE with the answer to share it)",
  security: [{ userToken: [] }],
  request: {
    query: z.object({ conversation: Id.openapi({ description: "a user id (direct) or group:<uuid>" }), name: FileName }),
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
  },
  responses: {
    201: { description: "stored", ...json(FileInfo) },
    ...errors(400, 401, 404, 411, 413, 429, 503),
  },
});

const download = createRoute({
  method: "get",
  path: "/{id}",
  summary: "Download a file (uploader, direct peer or current group member); Range requests get 206",
  security: [{ userToken: [] }],
  request: { params: FileParam },
  responses: {
    200: { description: "the bytes", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
    206: {
      description: "the requested range",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    ...errors(401, 404, 416, 503),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{id}",
  summary: "Delete a file you uploaded",
  security: [{ userToken: [] }],
  request: { params: FileParam },
  responses: { 204: { description: "deleted" }, ...errors(401, 403, 404, 503) },
});

const noSuchFile = (id: string) => typed<never>(httpError(404, "not_found", `no file ${id.slice(0, 64)}`));

/**
 * The file and what its metadata says, if the user may read it; otherwise
 * null, whether or not it exists. With `open`, the object comes with its
 * body (one R2 call for a whole download), which is cancelled if refused.
 */
async function readable(
  env: Env,
  user: string,
  id: string,
  open = false,
): Promise<{ object: R2Object | R2ObjectBody; meta: FileMeta } | null> {
  if (!isFileId(id)) return null;
  const object = open ? await env.FILES.get(id) : await env.FILES.head(id);
  const meta = object && metaOf(object);
  if (object && meta && (await mayRead(env, user, meta))) return { object, meta };
  if (open && object) await (object as R2ObjectBody).body.cancel();
  return null;
}

export const files = router()
  .openapi(upload, async (c) => {
    const { conversation, name } = c.req.valid("query");
    const config = readConfig(c.env);
    const length = c.req.header("content-length");
    if (length === undefined || !/^\d{1,16}$/.test(length)) {
      return typed<never>(httpError(411, "length_required", "send the file with a Content-Length (not chunked)"));
    }
    const size = Number(length);
    if (size > config.maxFileBytes) {
      return typed<never>(httpError(413, "too_large", `a file may be at most ${config.maxFileBytes} bytes (MAX_FILE_BYTES)`));
    }
    const type = c.req.header("content-type")?.trim() || "application/octet-stream";
    if (type.length > MAX_TYPE_LENGTH)
      return typed<never>(httpError(400, "bad_type", `Content-Type must be at most ${MAX_TYPE_LENGTH} characters`));
    const user = c.get("user");
    if (!(await mayUpload(c.env, user, conversation))) return typed<never>(httpError(404, "not_found", `no conversation ${conversation}`));

    const id = crypto.randomUUID();
    const owner = c.env.USERS.getByName(user);
    const day = await owner.reserveFile({ id, conversation, size });
    if (day === null) {
      return typed<never>(
        httpError(429, "quota_exceeded", `at most ${config.maxFileBytesPerDay} bytes a day (MAX_FILE_BYTES_PER_DAY); try tomorrow (UTC)`),
      );
    }
    const created = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const meta: FileMeta = { uploader: user, conversation, name, created };
    // The refund must run even when the client is gone (its disconnect cancels this request), hence waitUntil.
    const stored = c.env.FILES.put(id, c.req.raw.body, { httpMetadata: { contentType: type }, customMetadata: { ...meta } }).catch(
      async (err: unknown) => {
        await owner.releaseFile(id, day);
        throw err;
      },
    );
    c.executionCtx.waitUntil(stored.catch(() => undefined));
    await stored;
    return c.json({ file: id, conversation, name, type, size, created, url: `/v1/files/${id}` }, 201);
  })
  .openapi(download, async (c) => {
    const { id } = c.req.valid("param");
    const rangeHeader = c.req.header("range");
    // Without a Range, metadata and bytes come in one R2 call; a Range needs the size first (416).
    const found = await readable(c.env, c.get("user"), id, rangeHeader === undefined);
    if (!found) return noSuchFile(id);
    const { object, meta } = found;
    const range = parseRange(rangeHeader, object.size);
    if (range === "unsatisfiable") {
      const res = httpError(416, "range_not_satisfiable", `the file has ${object.size} bytes`);
      res.headers.set("Content-Range", `bytes */${object.size}`);
      return typed<never>(res);
    }
    const body = rangeHeader === undefined ? (object as R2ObjectBody) : await c.env.FILES.get(id, range ? { range } : {});
    if (!body) return noSuchFile(id);
    const headers = servingHeaders(object.httpMetadata?.contentType ?? "application/octet-stream", meta.name, object.httpEtag);
    // Known before the first byte, so a download can show its progress.
    headers.set("Content-Length", String(range ? range.length : object.size));
    if (!range) return typed<never>(new Response(body.body, { headers }));
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`);
    return typed<never>(new Response(body.body, { status: 206, headers }));
  })
  .openapi(remove, async (c) => {
    const { id } = c.req.valid("param");
    const user = c.get("user");
    const found = await readable(c.env, user, id);
    if (!found) return noSuchFile(id);
    if (found.meta.uploader !== user) return typed<never>(httpError(403, "forbidden", "only its uploader can delete a file"));
    await c.env.FILES.delete(id);
    await c.env.USERS.getByName(user).forgetFile(id);
    return c.body(null, 204);
  });
