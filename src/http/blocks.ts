/**
 * /v1/blocks (PROTOCOL.md, Blocking, reports and conversation settings):
 * authenticate, validate, one RPC to the user's own object, which keeps and
 * enforces the blocks. Blocking someone who never connected works: a block
 * is about the blocker's own data.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { httpError, typed } from "./errors.ts";
import { router } from "./router.ts";
import { errors, Identity, json } from "./schemas.ts";

export const BlockList = z
  .object({
    blocked: z.array(
      z.object({ user: z.string().openapi({ example: "morty" }), since: z.string().openapi({ example: "2026-12-01T10:00:00Z" }) }),
    ),
  })
  .openapi("BlockList");

const UserParam = z.object({ user: Identity });

const put = createRoute({
  method: "put",
  path: "/{user}",
  summary: "Block a user: their direct messages, receipts, typing and presence stop reaching you, and yours them (idempotent)",
  security: [{ userToken: [] }],
  request: { params: UserParam },
  responses: { 204: { description: "blocked (again: 204, `since` stays)" }, ...errors(400, 401) },
});

const remove = createRoute({
  method: "delete",
  path: "/{user}",
  summary: "Unblock a user (idempotent); what was withheld stays withheld",
  security: [{ userToken: [] }],
  request: { params: UserParam },
  responses: { 204: { description: "not blocked" }, ...errors(400, 401) },
});

const list = createRoute({
  method: "get",
  path: "/",
  summary: "The users you block, oldest block first",
  security: [{ userToken: [] }],
  responses: { 200: { description: "the users you block", ...json(BlockList) }, ...errors(401) },
});

export const blocks = router()
  .openapi(put, async (c) => {
    const { user } = c.req.valid("param");
    if (user === c.get("user")) return typed<never>(httpError(400, "bad_user", "user: you cannot block yourself"));
    await c.env.USERS.getByName(c.get("user")).block(user);
    return c.body(null, 204);
  })
  .openapi(remove, async (c) => {
    const { user } = c.req.valid("param");
    if (user === c.get("user")) return typed<never>(httpError(400, "bad_user", "user: you cannot block yourself"));
    await c.env.USERS.getByName(c.get("user")).unblock(user);
    return c.body(null, 204);
  })
  .openapi(list, async (c) => c.json({ blocked: await c.env.USERS.getByName(c.get("user")).blocked() }, 200));
