/**
 * The server API, /v1/admin (PROTOCOL.md, Server API): the app's backend,
 * with its own key (src/auth/apikey.ts). It sends as a user or as the
 * system, manages groups as `system`, reads any user's conversations, and
 * disconnects, suspends or erases a user. Each route is one RPC.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { checkApiKey } from "../auth/apikey.ts";
import { isGroupId } from "../protocol/frames.ts";
import { scanObject } from "../protocol/parse.ts";
import { ConversationList, HistoryQuery, ListQuery, MessagePage } from "./conversations.ts";
import { httpError, jsonText, typed } from "./errors.ts";
import { addMembers, GroupSchema, groupIdFor, MAX_IDEMPOTENCY_KEY, NewMemberBody, notAGroup, respond, Users } from "./groups.ts";
import { router } from "./router.ts";
import { body, errors, GroupName, Id, Identity, json } from "./schemas.ts";

export const apiKeyAuth = createMiddleware(async (c, next) => {
  const refused = await checkApiKey(c.req.raw, c.env);
  if (refused) return refused;
  await next();
});

const security = [{ apiKey: [] }];
const GroupAnswer = json(GroupSchema);
const UserParam = z.object({ user: Id });

const Recipient = z
  .string({ error: "must be a user id or a group id" })
  .min(1, { error: "must not be empty" })
  .max(128, { error: "must be at most 128 characters" })
  .refine((to) => to !== "system", { error: "'system' takes no messages" })
  .openapi({ example: "rick" });

const MessageBody = z
  .object({
    id: Id.openapi({ description: "your idempotency key: the same id twice is one message" }),
    from: Identity.optional().openapi({ description: "send as this user; without it, a NOTICE from the system" }),
    to: Recipient,
    content: z.enum(["TEXT_MESSAGE", "FILE_MESSAGE"], { error: "must be TEXT_MESSAGE or FILE_MESSAGE" }).default("TEXT_MESSAGE"),
    message: z
      .unknown()
      .refine((m) => m !== undefined, { error: "is required" })
      .openapi({ description: "any JSON; relayed byte for byte" }),
  })
  .openapi("AdminMessage");

const Sent = z.object({ id: z.string(), time: z.string() }).openapi("Sent");

const AdminGroupBody = z.object({ name: GroupName, members: Users.default([]), admins: Users.default([]) }).openapi("AdminNewGroup");

const DisconnectBody = z
  .object({
    until: z.iso.datetime({ error: "must be an ISO 8601 time, e.g. 2026-12-31T00:00:00Z" }).optional(),
    reason: z.string().max(100, { error: "must be at most 100 characters" }).optional(),
  })
  .openapi("Disconnect");

const postMessage = createRoute({
  method: "post",
  path: "/messages",
  summary: "Send as a user (with `from`) or a notice from the system, to a user or a group",
  security,
  request: { body: body(MessageBody) },
  responses: { 201: { description: "stored", ...json(Sent) }, ...errors(400, 401, 403, 404, 413, 503) },
});

const createGroup = createRoute({
  method: "post",
  path: "/groups",
  summary: "Create a group as the system: `admins` are members with role admin",
  security,
  request: {
    headers: z.object({ "idempotency-key": z.string().max(MAX_IDEMPOTENCY_KEY, { error: "must be at most 255 characters" }).optional() }),
    body: body(AdminGroupBody),
  },
  responses: { 201: { description: "the group", ...GroupAnswer }, ...errors(400, 401, 409, 503) },
});

const addMember = createRoute({
  method: "post",
  path: "/groups/{id}/members",
  summary: "Add a member, or a batch of up to 1,000, to any group",
  security,
  request: {
    params: z.object({ id: z.string() }),
    body: body(NewMemberBody),
  },
  responses: { 200: { description: "the group", ...GroupAnswer }, ...errors(400, 401, 404, 409, 503) },
});

const removeMember = createRoute({
  method: "delete",
  path: "/groups/{id}/members/{user}",
  summary: "Remove a member from any group",
  security,
  request: { params: z.object({ id: z.string(), user: z.string() }) },
  responses: { 200: { description: "the group", ...GroupAnswer }, ...errors(401, 404, 503) },
});

const conversations = createRoute({
  method: "get",
  path: "/users/{user}/conversations",
  summary: "A user's conversations (the same shape as the user's own)",
  security,
  request: { params: UserParam, query: ListQuery },
  responses: { 200: { description: "a page", ...json(ConversationList) }, ...errors(400, 401, 503) },
});

const history = createRoute({
  method: "get",
  path: "/users/{user}/conversations/{id}/messages",
  summary: "A user's history of one conversation",
  security,
  request: { params: UserParam.extend({ id: Id }), query: HistoryQuery },
  responses: { 200: { description: "a page", ...json(MessagePage) }, ...errors(400, 401, 503) },
});

const disconnect = createRoute({
  method: "post",
  path: "/users/{user}/disconnect",
  summary: "Close every socket of a user (4003); with `until`, new connections get 403 suspended until then",
  security,
  request: { params: UserParam, body: body(DisconnectBody, false) },
  responses: {
    200: {
      description: "done",
      ...json(z.object({ closed: z.number().int(), until: z.string().nullable() })),
    },
    ...errors(400, 401, 503),
  },
});

const eraseUser = createRoute({
  method: "delete",
  path: "/users/{user}",
  summary: "Erase a user: they leave every group, their sockets close (4003), their object is emptied",
  security,
  request: { params: UserParam },
  responses: { 204: { description: "erased" }, ...errors(401, 503) },
});

/** The raw body is read before validation, so a message's payload can be relayed byte for byte. */
const keepRawBody = createMiddleware(async (c, next) => {
  await c.req.text();
  await next();
});

export const admin = router();

admin.use("/messages", keepRawBody);

admin
  .openapi(postMessage, async (c) => {
    const { id, from, to, content } = c.req.valid("json");
    const rawMessage = scanObject(await c.req.text()).message!;
    if (from !== undefined) {
      const sent = await c.env.USERS.getByName(from).sendAs({ type: "USER_MSG", id, to, content, rawMessage });
      return typed(sent.ok ? Response.json(sent.value, { status: 201 }) : httpError(sent.status, sent.error, sent.reason));
    }
    if (isGroupId(to)) {
      const refused = notAGroup<Response>(to);
      if (refused) return typed(refused);
      const sent = await c.env.GROUPS.getByName(to).notice(id, rawMessage);
      return typed(sent ? Response.json(sent, { status: 201 }) : httpError(404, "not_found", "no such group"));
    }
    return typed(Response.json(await c.env.USERS.getByName(to).notice(id, rawMessage), { status: 201 }));
  })
  .openapi(createGroup, async (c) => {
    const { name, members, admins } = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"] ?? null;
    const adminSet = new Set(admins);
    const all = [...new Set([...admins, ...members])].map((user) => ({
      user,
      role: adminSet.has(user) ? ("admin" as const) : ("member" as const),
    }));
    const result = await c.env.GROUPS.getByName(await groupIdFor("system", key)).create({
      actor: "system",
      name,
      members: all,
      idempotencyKey: key,
    });
    return respond(result, 201);
  })
  .openapi(addMember, async (c) => {
    const { id } = c.req.valid("param");
    return notAGroup(id) ?? respond(await addMembers(c.env.GROUPS.getByName(id), "system", c.req.valid("json")));
  })
  .openapi(removeMember, async (c) => {
    const { id, user } = c.req.valid("param");
    return notAGroup(id) ?? respond(await c.env.GROUPS.getByName(id).removeMember("system", user));
  })
  .openapi(conversations, async (c) => {
    const { user } = c.req.valid("param");
    const { limit, before, archived } = c.req.valid("query");
    return jsonText<z.infer<typeof ConversationList>>(await c.env.USERS.getByName(user).conversations(before ?? null, limit, archived));
  })
  .openapi(history, async (c) => {
    const { user, id } = c.req.valid("param");
    const { limit, before } = c.req.valid("query");
    return jsonText<z.infer<typeof MessagePage>>(await c.env.USERS.getByName(user).history(id, before ?? null, limit));
  })
  .openapi(disconnect, async (c) => {
    const { user } = c.req.valid("param");
    // The body is optional: no body, no suspension, the default reason.
    const body = c.req.valid("json") ?? {};
    const until = body.until === undefined ? null : Date.parse(body.until);
    const closed = await c.env.USERS.getByName(user).disconnect(until, body.reason ?? "disconnected by the server");
    return c.json({ closed, until: until === null ? null : new Date(until).toISOString() }, 200);
  })
  .openapi(eraseUser, async (c) => {
    await c.env.USERS.getByName(c.req.valid("param").user).erase();
    return c.body(null, 204);
  });
