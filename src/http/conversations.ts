/**
 * GET /v1/conversations, GET /v1/conversations/<id>/messages (PROTOCOL.md,
 * Conversations and history) and DELETE /v1/conversations/<id>/messages/<server id>
 * (delete for me): authenticate, validate, one RPC to the user's own object. No other user's data is reachable: the object is the token's.
 * The body comes from the object as JSON text, with every stored frame
 * spliced in as it was logged (payloads are never re-serialized).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { httpError, jsonText, typed } from "./errors.ts";
import { router } from "./router.ts";
import { errors, Id, json, Limit, Seq } from "./schemas.ts";

const Frame = z.record(z.string(), z.unknown()).openapi("Frame", {
  description: "a frame as the socket delivers it, with its seq (and `status` on your own direct messages in history)",
});

export const Conversation = z
  .object({
    id: z.string().openapi({ example: "rick" }),
    kind: z.enum(["direct", "group", "system"]),
    name: z.string().optional().openapi({ description: "groups only" }),
    lastSeq: z.number().int(),
    last: Frame.nullable().openapi({ description: "the frame at lastSeq; null once it aged out" }),
    unread: z.number().int(),
    readUpTo: z.number().int(),
    peerDeliveredUpTo: z.number().int().optional().openapi({ description: "direct conversations only" }),
    peerReadUpTo: z.number().int().optional().openapi({ description: "direct conversations only" }),
    updated: z.string().openapi({ example: "2026-12-01T10:00:00Z" }),
  })
  .openapi("Conversation");

export const ConversationList = z
  .object({ conversations: z.array(Conversation), unread: z.number().int(), next: z.string().nullable() })
  .openapi("ConversationList");

export const MessagePage = z.object({ messages: z.array(Frame), next: z.number().int().nullable() }).openapi("MessagePage");

export const ListQuery = z.object({
  limit: Limit,
  before: Seq.optional().openapi({ type: "string", description: "the `next` of the previous page" }),
});

export const HistoryQuery = z.object({
  limit: Limit,
  before: Seq.optional().openapi({ type: "string", description: "a seq: the page ends before it (the `next` of the previous page)" }),
});

const list = createRoute({
  method: "get",
  path: "/",
  summary: "Your conversations, latest activity first, with unread counts",
  security: [{ userToken: [] }],
  request: { query: ListQuery },
  responses: {
    200: { description: "a page of conversations", ...json(ConversationList) },
    ...errors(400, 401, 503),
  },
});

const history = createRoute({
  method: "get",
  path: "/{id}/messages",
  summary: "A conversation's history, newest page first, each page oldest first",
  security: [{ userToken: [] }],
  request: { params: z.object({ id: Id }), query: HistoryQuery },
  responses: {
    200: { description: "a page of frames", ...json(MessagePage) },
    ...errors(400, 401, 503),
  },
});

const hide = createRoute({
  method: "delete",
  path: "/{id}/messages/{message}",
  summary: "Delete a message for yourself: out of your history, replay, unread and the list on every device",
  security: [{ userToken: [] }],
  request: { params: z.object({ id: Id, message: Id.openapi({ description: "the message's server id" }) }) },
  responses: {
    204: { description: "deleted for you (again: 204, and nothing changes)" },
    ...errors(401, 404, 503),
  },
});

export const conversations = router()
  .openapi(list, async (c) => {
    const { limit, before } = c.req.valid("query");
    const body = await c.env.USERS.getByName(c.get("user")).conversations(before ?? null, limit);
    return jsonText<z.infer<typeof ConversationList>>(body);
  })
  .openapi(history, async (c) => {
    const { id } = c.req.valid("param");
    const { limit, before } = c.req.valid("query");
    const body = await c.env.USERS.getByName(c.get("user")).history(id, before ?? null, limit);
    return jsonText<z.infer<typeof MessagePage>>(body);
  })
  .openapi(hide, async (c) => {
    const { id, message } = c.req.valid("param");
    const found = await c.env.USERS.getByName(c.get("user")).hide(id, message);
    if (!found) return typed<never>(httpError(404, "not_found", `no message ${message} in this conversation`));
    return c.body(null, 204);
  });
