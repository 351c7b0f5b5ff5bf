/**
 * GET /v1/conversations, GET /v1/conversations/<id>/messages (PROTOCOL.md,
 * Conversations and history), PATCH /v1/conversations/<id> (its settings)
 * and DELETE /v1/conversations/<id>/messages/<server id> (delete for me):
 * authenticate, validate, one RPC to the user's own object. No other user's data is reachable: the object is the token's.
 * The body comes from the object as JSON text, with every stored frame
 * spliced in as it was logged (payloads are never re-serialized).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { httpError, jsonText, typed } from "./errors.ts";
import { router } from "./router.ts";
import { body, errors, Id, json, Limit, Seq } from "./schemas.ts";

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
    mutedUntil: z
      .string()
      .nullable()
      .openapi({ description: "muted until then (no offline webhook, out of the total unread); null unless in the future" }),
    pinned: z.boolean().openapi({ description: "a flag for clients to order by; the server's order ignores it" }),
    archived: z.boolean().openapi({ description: "archived conversations are listed only with ?archived=true" }),
  })
  .openapi("Conversation");

const IsoTime = z.iso.datetime({ offset: true, error: "must be an ISO time (2026-12-01T10:00:00Z) or null" });

/** Unknown fields are refused (400 naming the field), so a typo is not a silent no-op. */
export const ConversationSettings = z
  .strictObject({
    mutedUntil: IsoTime.nullable()
      .optional()
      .openapi({ description: "mute until this time; null unmutes", example: "2026-12-01T18:00:00Z" }),
    pinned: z.boolean({ error: "must be true or false" }).optional(),
    archived: z.boolean({ error: "must be true or false" }).optional(),
  })
  .openapi("ConversationSettings");

export const ConversationList = z
  .object({ conversations: z.array(Conversation), unread: z.number().int(), next: z.string().nullable() })
  .openapi("ConversationList");

export const MessagePage = z.object({ messages: z.array(Frame), next: z.number().int().nullable() }).openapi("MessagePage");

export const ListQuery = z.object({
  limit: Limit,
  before: Seq.optional().openapi({ type: "string", description: "the `next` of the previous page" }),
  archived: z
    .enum(["true", "false"], { error: "must be true or false" })
    .default("false")
    .transform((v) => v === "true")
    .openapi({ type: "string", description: "true: only the archived conversations (else they are left out)" }),
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

const patch = createRoute({
  method: "patch",
  path: "/{id}",
  summary: "Mute (until a time), pin or archive one of your conversations; your other devices get SETTINGS_CHANGED",
  security: [{ userToken: [] }],
  request: { params: z.object({ id: Id }), body: body(ConversationSettings) },
  responses: {
    200: { description: "the conversation as listed", ...json(Conversation) },
    ...errors(400, 401, 404, 503),
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
    const { limit, before, archived } = c.req.valid("query");
    const body = await c.env.USERS.getByName(c.get("user")).conversations(before ?? null, limit, archived);
    return jsonText<z.infer<typeof ConversationList>>(body);
  })
  .openapi(patch, async (c) => {
    const { id } = c.req.valid("param");
    const { mutedUntil, pinned, archived } = c.req.valid("json");
    const answer = await c.env.USERS.getByName(c.get("user")).updateConversation(id, {
      mutedUntil: mutedUntil == null ? mutedUntil : Date.parse(mutedUntil),
      pinned,
      archived,
    });
    if (answer === null) return typed<never>(httpError(404, "not_found", `you have no conversation ${id}`));
    return jsonText<z.infer<typeof Conversation>>(answer);
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
