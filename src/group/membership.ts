/**
 * Membership and roles (PROTOCOL.md, Groups): every change is checked here,
 * then logged as a GROUP_EVENT in the group's order, so every member's log
 * (and a removed member's, as its last frame of the group) shows it.
 * Non-members get 404 for everything: no group's existence leaks. The
 * server API acts as `system`, with an admin's rights, member or not.
 */
import { groupEventText, isoSecond } from "../protocol/build.ts";
import { type GroupEvent, type GroupRole, SYSTEM } from "../protocol/frames.ts";
import type { Group } from "./context.ts";
import type { Member } from "./members.ts";
import { place } from "./placement.ts";
import { CANNOT_ADD, type GroupResult, NOT_FOUND, refuse, view } from "./view.ts";

export interface NewGroup {
  /** Who creates it: a user (then its first admin), or `system`. */
  actor: string;
  name: string;
  members: { user: string; role: GroupRole }[];
  /** The create's Idempotency-Key, if it had one: a retry with the same key returns this group. */
  idempotencyKey: string | null;
}

export function exists(g: Group): boolean {
  return g.db.exists && g.db.sql.exec("SELECT 1 FROM info").toArray().length > 0;
}

export function create(g: Group, req: NewGroup, now: number): GroupResult {
  if (exists(g)) {
    const info = g.db.sql.exec<{ creator: string; idempotency_key: string | null }>("SELECT creator, idempotency_key FROM info").one();
    if (req.idempotencyKey !== null && info.creator === req.actor && info.idempotency_key === req.idempotencyKey) return ok(g);
    return refuse(409, "group_exists", "a group with this id already exists");
  }
  if (req.members.length > g.config.maxGroupMembers) return full(g);
  g.db.write.exec(
    "INSERT INTO info (one, name, created, creator, idempotency_key) VALUES (1, ?, ?, ?, ?)",
    req.name,
    now,
    req.actor,
    req.idempotencyKey,
  );
  const at = logEvent(g, req.actor, { event: "created", name: req.name, members: req.members }, now);
  place(g, req.members, at, now);
  return ok(g);
}

export function get(g: Group, actor: string): GroupResult {
  return roleOf(g, actor) === null ? NOT_FOUND() : ok(g);
}

export function rename(g: Group, actor: string, name: string, now: number): GroupResult {
  const denied = needAdmin(g, actor);
  if (denied) return denied;
  g.db.sql.exec("UPDATE info SET name = ?", name);
  logEvent(g, actor, { event: "renamed", name }, now);
  return ok(g);
}

export function add(g: Group, actor: string, user: string, role: GroupRole, refused: boolean, now: number): GroupResult {
  if (roleOf(g, actor) === "admin" && g.members.get(user)) return refuse(409, "already_member", `${user} is already a member`);
  return addMany(g, actor, [user], role, refused, now);
}

/**
 * A batch (PROTOCOL.md, Large groups): users already in the group are
 * skipped, and a batch that would pass MAX_GROUP_MEMBERS, or names someone
 * who blocks the actor (`refused`), is refused whole. One event adds them
 * all (`members`, as in `created`; a batch of one has `user`), so a batch of
 * 1,000 is one frame in every member's log, not 1,000.
 */
export function addMany(g: Group, actor: string, users: string[], role: GroupRole, refused: boolean, now: number): GroupResult {
  const denied = needAdmin(g, actor);
  if (denied) return denied;
  const added = [...new Set(users)].filter((user) => !g.members.get(user));
  if (added.length === 0) return ok(g);
  if (refused) return refuse(403, "forbidden", CANNOT_ADD);
  if (g.members.count() + added.length > g.config.maxGroupMembers) return full(g);
  // The group's name rides along: it is the new members' first frame of the group.
  const { name } = g.db.sql.exec<{ name: string }>("SELECT name FROM info").one();
  const event: GroupEvent =
    added.length === 1
      ? { event: "member_added", user: added[0]!, role, name }
      : { event: "member_added", members: added.map((user) => ({ user, role })), role, name };
  place(
    g,
    added.map((user) => ({ user, role })),
    logEvent(g, actor, event, now),
    now,
  );
  return ok(g);
}

export function setRole(g: Group, actor: string, user: string, role: GroupRole, now: number): GroupResult {
  const denied = needAdmin(g, actor);
  if (denied) return denied;
  const member = g.members.get(user);
  if (!member) return refuse(404, "not_member", `${user} is not a member`);
  if (member.role === role) return ok(g);
  g.members.setRole(user, role);
  logEvent(g, actor, { event: "role_changed", user, role }, now);
  keepAnAdmin(g, member.role, now);
  return ok(g);
}

/** Admins remove anyone; anyone removes themself (leaves). */
export function remove(g: Group, actor: string, user: string, now: number): GroupResult {
  const actorRole = roleOf(g, actor);
  if (actorRole === null) return NOT_FOUND();
  if (actor !== user && actorRole !== "admin") return refuse(403, "forbidden", "only admins can remove other members");
  const member = g.members.get(user);
  if (!member) return refuse(404, "not_member", `${user} is not a member`);
  const at = logEvent(g, actor, { event: actor === user ? "member_left" : "member_removed", user }, now);
  leave(g, member, at, now);
  return ok(g);
}

/**
 * A user erased by the server API leaves: the others get member_left, and
 * nothing more is sent to the erased user's object, not even that event (it
 * would bring back a log the erasure just removed).
 */
export function forget(g: Group, user: string, now: number): GroupResult {
  const member = g.members.get(user);
  if (!member) return NOT_FOUND();
  const at = logEvent(g, user, { event: "member_left", user }, now);
  g.spans.drop(user, at, member.shard);
  g.members.remove(user);
  place(g, [], at, now);
  keepAnAdmin(g, member.role, now);
  return ok(g);
}

/** A member leaves (or is removed) with the event at `at` as its last frame; the others may move. */
function leave(g: Group, member: Member, at: number, now: number): void {
  g.spans.depart(member.user, at, member.shard);
  g.members.remove(member.user);
  place(g, [], at, now);
  keepAnAdmin(g, member.role, now);
}

/** The actor's role, `admin` for the server API, null for a non-member. */
function roleOf(g: Group, actor: string): GroupRole | null {
  if (!exists(g)) return null;
  if (actor === SYSTEM) return "admin";
  return g.members.get(actor)?.role ?? null;
}

function needAdmin(g: Group, actor: string): GroupResult | null {
  const role = roleOf(g, actor);
  if (role === null) return NOT_FOUND();
  return role === "admin" ? null : refuse(403, "forbidden", "only the group's admins can do that");
}

/** When the last admin goes (leaves, is removed or steps down), the longest-standing member becomes admin. */
function keepAnAdmin(g: Group, formerRole: GroupRole, now: number): void {
  if (formerRole !== "admin" || g.members.admins() > 0) return;
  const next = g.members.all()[0];
  if (!next) return;
  g.members.setRole(next.user, "admin");
  logEvent(g, SYSTEM, { event: "role_changed", user: next.user, role: "admin" }, now);
}

/** Logs a change in the group's order; returns its gseq. */
function logEvent(g: Group, actor: string, event: GroupEvent, now: number): number {
  const id = crypto.randomUUID();
  const frame = groupEventText(id, actor, g.id, isoSecond(now), event);
  return g.log.append({ id, sender: actor, type: "GROUP_EVENT", frame }, now)!;
}

function full(g: Group): GroupResult {
  return refuse(409, "group_full", `a group has at most ${g.config.maxGroupMembers} members (MAX_GROUP_MEMBERS)`);
}

function ok(g: Group): GroupResult {
  return { ok: true, group: view(g) };
}
