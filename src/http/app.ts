/**
 * The HTTP API: one router per resource, mounted here, so this file reads as
 * the table of contents of /v1. Every refusal, from validation to a thrown
 * error, is the one JSON error shape; the schemas that validate requests
 * also generate /v1/openapi.json.
 */

import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { signToken } from "../auth/devtoken.ts";
import { MAX_ID_LENGTH, readConfig } from "../config.ts";
import { errorMessage, logEvent } from "../logging.ts";
import { admin, apiKeyAuth } from "./admin.ts";
import { userAuth } from "./auth.ts";
import { blocks } from "./blocks.ts";
import { conversations } from "./conversations.ts";
import { docs } from "./docs.ts";
import { httpError } from "./errors.ts";
import { files } from "./files.ts";
import { groups } from "./groups.ts";
import { adminReports, reports } from "./reports.ts";
import { router } from "./router.ts";

export const app = router();

app.use("/v1/*", async (c, next) => {
  // Tokens travel as bearer headers, never cookies, so any listed origin (or any, when none are) may call.
  const origins = readConfig(c.env).allowedOrigins;
  return cors({
    origin: origins ? [...origins] : "*",
    allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "Range"],
    exposeHeaders: ["Content-Range", "Content-Disposition"],
  })(c, next);
});

app.get("/health", (c) => c.json({ status: "ok" }));

/** Development only: off unless DEV_TOKENS is "on" (as under `npm start`); in production the app issues tokens. */
app.get("/dev/token", async (c) => {
  if (c.env.DEV_TOKENS !== "on" || !c.env.AUTH_SECRET) return httpError(404, "not_found", "dev tokens are off");
  const user = c.req.query("user") ?? "";
  if (user.length === 0 || user.length > MAX_ID_LENGTH) return httpError(400, "bad_user", `user must be 1 to ${MAX_ID_LENGTH} characters`);
  return c.json({ token: await signToken(c.env.AUTH_SECRET, user, readConfig(c.env).identityClaim) });
});

/**
 * A group's create or member batch names up to 1,000 users of up to 128
 * characters (4 bytes each in UTF-8, quoted): PROTOCOL.md, Large groups.
 */
const GROUP_BODY_BYTES = 1000 * (128 * 4 + 3) + 1024;

// The same limit as a socket's frame (a body is one message at most), except the group routes that take member lists.
// Uploads have their own limit (MAX_FILE_BYTES) and stream to R2 unread (files.ts).
app.use("/v1/*", async (c, next) => {
  if (c.req.path.startsWith("/v1/files")) return next();
  const lists = c.req.method === "POST" && /^\/v1\/(admin\/)?groups(\/[^/]+\/members)?$/.test(c.req.path);
  const maxSize = lists ? Math.max(GROUP_BODY_BYTES, readConfig(c.env).maxMessageBytes) : readConfig(c.env).maxMessageBytes;
  return bodyLimit({ maxSize, onError: () => httpError(413, "too_large", `the body is over the ${maxSize}-byte limit`) })(c, next);
});

// An upload refused before its body was read (401, 404, 429): the body is read to its end (it is within
// MAX_FILE_BYTES), or the connection is reset under a client still sending it, and an HTTP/1.1 client
// (Node's fetch) gets a network error instead of the answer. Over the limit (413, 411) it is not read.
app.use("/v1/files", async (c, next) => {
  await next();
  const body = c.req.raw.body;
  if (!body || c.req.raw.bodyUsed || !(Number(c.req.header("content-length")) <= readConfig(c.env).maxFileBytes)) return;
  await body.pipeTo(new WritableStream()).catch(() => undefined);
});
for (const path of ["/v1/conversations", "/v1/groups", "/v1/blocks", "/v1/reports", "/v1/files"])
  app.use(path, userAuth).use(`${path}/*`, userAuth);
app.use("/v1/admin/*", apiKeyAuth);
app.route("/v1/conversations", conversations);
app.route("/v1/groups", groups);
app.route("/v1/blocks", blocks);
app.route("/v1/reports", reports);
app.route("/v1/admin/reports", adminReports);
app.route("/v1/files", files);
app.route("/v1/admin", admin);
app.route("/v1/docs", docs);

app.openAPIRegistry.registerComponent("securitySchemes", "userToken", {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
  description: "the same token as /ws (or ?Authentication=<JWT>)",
});
app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
  type: "http",
  scheme: "bearer",
  description: "the server API key (API_KEY), for your backend only",
});
app.doc31("/v1/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "LunarLoom Edge",
    version: "2",
    description: "The HTTP API beside the WebSocket protocol (docs/http-api.md; the frames are in docs/protocol.md).",
  },
});

app.notFound((c) => httpError(404, "not_found", `no route ${new URL(c.req.url).pathname}; connect to /ws`));

app.onError((err, c) => {
  // Hono's own refusals: a body that is not JSON is the one its validator throws.
  if (err instanceof HTTPException) return httpError(err.status, err.status === 400 ? "bad_json" : "bad_request", err.message);
  // A bad var (readConfig names it) or a platform failure: still one error shape, never a bare 500.
  logEvent("error", "request_failed", { path: new URL(c.req.url).pathname, error: errorMessage(err) });
  return httpError(500, "internal", errorMessage(err));
});
