/**
 * /v1/groups (PROTOCOL.md, Groups): authenticate, validate, one RPC to the
 * group's object, which checks who may do what and answers with the group
 * or a refusal. The server API (admin.ts) calls the same objects as `system`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { GroupObject } from "../group/object.ts";
import { CANNOT_ADD, type GroupResult } from "../group/view.ts";
import { httpError, typed } from "./errors.ts";
import { router } from "./router.ts";
import { body, errors, GroupName, Identity, json, Role } from "./schemas.ts";

const GROUP_ID = /^group:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const GroupSchema = z
  .object({
    id: z.string().openapi({ example: "group:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" }),
    name: z.string(),
    created: z.string(),
    members: z.array(
      z.object({
        user: z.string(),
        role: z.enum(["admin", "member"]),
        joined: z.string(),
        deliveredUpTo: z
          .string()
          .nullable()
          .openapi({ description: "the server id of the latest group message this member reported delivered" }),
        readUpTo: z.string().nullable().openapi({ description: "the server id of the latest group message this member reported read" }),
      }),
    ),
  })
  .openapi("Group");

const answer = json(GroupSchema);
/** `group:<uuid>`, or percent-encoded (`group%3A<uuid>`): the router decodes it. */
const GroupParam = z.object({ id: z.string().openapi({ example: "group:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" }) });
const MemberParam = GroupParam.extend({ user: z.string() });

/** Members one call may name (PROTOCOL.md, Large groups): a 10,000-member group is ten calls. */
export const MAX_MEMBERS_PER_CALL = 1000;

/** A list of up to MAX_MEMBERS_PER_CALL users. */
export const Users = z.array(Identity).max(MAX_MEMBERS_PER_CALL, { error: `at most ${MAX_MEMBERS_PER_CALL} users per call` });

export const NewGroupBody = z.object({ name: GroupName, members: Users.default([]) }).openapi("NewGroup");
/** One member (`user`: 409 if already in), or a batch (`users`: those already in are skipped). */
export const NewMemberBody = z
  .object({
    user: Identity.optional(),
    users: Users.min(1, { error: "must name at least one user" }).optional(),
    role: Role.default("member"),
  })
  .refine((b) => (b.user === undefined) !== (b.users === undefined), { error: "give either user or users", path: ["user"] })
  .openapi("NewMember");

/** Adds what a NewMemberBody names, as `actor`; `refused`: one of them blocks the actor. */
export function addMembers(
  stub: DurableObjectStub<GroupObject>,
  actor: string,
  req: z.infer<typeof NewMemberBody>,
  refused = false,
): Promise<GroupResult> {
  return req.users ? stub.addMembers(actor, req.users, req.role, refused) : stub.addMember(actor, req.user!, req.role, refused);
}

const RenameBody = z.object({ name: GroupName }).openapi("Rename");
const RoleBody = z.object({ role: Role }).openapi("RoleChange");

/** A group id derived from its creator and the create's Idempotency-Key, so a retried create finds the same group. */
export async function groupIdFor(creator: string, key: string | null): Promise<string> {
  if (key === null) return `group:${crypto.randomUUID()}`;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${creator}\0${key}`)));
  // A UUID's form (version 8: custom, RFC 9562), from the hash's first 16 bytes.
  hash[6] = (hash[6]! & 0x0f) | 0x80;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = [...hash.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `group:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A group object's answer as HTTP. */
export function respond<R>(result: GroupResult, status: 200 | 201 = 200): R {
  return typed(result.ok ? Response.json(result.group, { status }) : httpError(result.status, result.error, result.reason));
}

/** An id that is not a group id is "no such group" like any other. */
export function notAGroup<R>(id: string): R | null {
  return GROUP_ID.test(id) ? null : typed(httpError(404, "not_found", "no such group"));
}

export const MAX_IDEMPOTENCY_KEY = 255;

/**
 * Whether any of `users` blocks `actor`, who then may not add them (PROTOCOL.md,
 * Blocking). Asked of the users' own objects, where blocks live; the server
 * API does not ask (it is not bound by blocks).
 */
async function blockedBy(env: Env, actor: string, users: string[]): Promise<boolean> {
  return (await Promise.all(users.map((user) => env.USERS.getByName(user).blocks(actor)))).some(Boolean);
}

const create = createRoute({
  method: "post",
  path: "/",
  summary: "Create a group; you are its first admin. An Idempotency-Key makes a retry return the same group.",
  security: [{ userToken: [] }],
  request: {
    headers: z.object({ "idempotency-key": z.string().max(MAX_IDEMPOTENCY_KEY, { error: "must be at most 255 characters" }).optional() }),
    body: body(NewGroupBody),
  },
  responses: { 201: { description: "the group", ...answer }, ...errors(400, 401, 409, 413) },
});

const get = createRoute({
  method: "get",
  path: "/{id}",
  summary: "A group you are a member of (404 for anyone else)",
  security: [{ userToken: [] }],
  request: { params: GroupParam },
  responses: { 200: { description: "the group", ...answer }, ...errors(401, 404) },
});

const rename = createRoute({
  method: "patch",
  path: "/{id}",
  summary: "Rename a group (admins)",
  security: [{ userToken: [] }],
  request: { params: GroupParam, body: body(RenameBody) },
  responses: { 200: { description: "the group", ...answer }, ...errors(400, 401, 403, 404) },
});

const addMember = createRoute({
  method: "post",
  path: "/{id}/members",
  summary: "Add a member, or a batch of up to 1,000 (admins)",
  security: [{ userToken: [] }],
  request: { params: GroupParam, body: body(NewMemberBody) },
  responses: { 200: { description: "the group", ...answer }, ...errors(400, 401, 403, 404, 409) },
});

const setRole = createRoute({
  method: "put",
  path: "/{id}/members/{user}",
  summary: "Change a member's role (admins)",
  security: [{ userToken: [] }],
  request: { params: MemberParam, body: body(RoleBody) },
  responses: { 200: { description: "the group", ...answer }, ...errors(400, 401, 403, 404) },
});

const removeMember = createRoute({
  method: "delete",
  path: "/{id}/members/{user}",
  summary: "Remove a member (admins), or leave (yourself)",
  security: [{ userToken: [] }],
  request: { params: MemberParam },
  responses: { 200: { description: "the group", ...answer }, ...errors(401, 403, 404) },
});

export const groups = router()
  .openapi(create, async (c) => {
    const me = c.get("user");
    const { name, members } = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"] ?? null;
    const others = [...new Set(members)].filter((u) => u !== me);
    if (await blockedBy(c.env, me, others)) return typed<never>(httpError(403, "forbidden", CANNOT_ADD));
    const id = await groupIdFor(me, key);
    const result = await c.env.GROUPS.getByName(id).create({
      actor: me,
      name,
      members: [{ user: me, role: "admin" }, ...others.map((user) => ({ user, role: "member" as const }))],
      idempotencyKey: key,
    });
    return respond(result, 201);
  })
  .openapi(get, async (c) => {
    const { id } = c.req.valid("param");
    return notAGroup(id) ?? respond(await c.env.GROUPS.getByName(id).get(c.get("user")));
  })
  .openapi(rename, async (c) => {
    const { id } = c.req.valid("param");
    return notAGroup(id) ?? respond(await c.env.GROUPS.getByName(id).rename(c.get("user"), c.req.valid("json").name));
  })
  .openapi(addMember, async (c) => {
    const { id } = c.req.valid("param");
    const req = c.req.valid("json");
    const refused = await blockedBy(c.env, c.get("user"), req.users ?? [req.user!]);
    return notAGroup(id) ?? respond(await addMembers(c.env.GROUPS.getByName(id), c.get("user"), req, refused));
  })
  .openapi(setRole, async (c) => {
    const { id, user } = c.req.valid("param");
    return notAGroup(id) ?? respond(await c.env.GROUPS.getByName(id).setRole(c.get("user"), user, c.req.valid("json").role));
  })
  .openapi(removeMember, async (c) => {
    const { id, user } = c.req.valid("param");
    return notAGroup(id) ?? respond(await c.env.GROUPS.getByName(id).removeMember(c.get("user"), user));
  });
