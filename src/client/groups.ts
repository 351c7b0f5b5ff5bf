/**
 * Groups over HTTP (PROTOCOL.md, Groups): create one, read it, rename it,
 * add, re-role and remove members (removing yourself is leaving). Every
 * answer is the whole group as the server now has it; refusals are the
 * ApiError of api.ts (404 to anyone not a member, 403 for a member's change
 * that needs an admin, 409 `already_member` / `group_full`).
 */
import type { GroupRole } from "../protocol/frames.ts";
import type { Api } from "./api.ts";

export interface GroupMember {
  user: string;
  role: GroupRole;
  /** When the user became a member. */
  joined: string;
  /** The server id of the latest group message this member reported delivered / read; null until then. */
  deliveredUpTo: string | null;
  readUpTo: string | null;
}

export interface Group {
  /** `group:<uuid>`: the `to` of its messages and the id of its conversation. */
  id: string;
  name: string;
  created: string;
  members: GroupMember[];
}

export interface NewGroup {
  /** 1–128 characters. */
  name: string;
  /** The other first members; the creator is always in, as its admin. */
  members: string[];
  /**
   * Makes the create safe to repeat: the same key from the same user returns
   * the group the first call made (e.g. after a response lost to the network).
   */
  idempotencyKey?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isRole = (v: unknown): v is GroupRole => v === "admin" || v === "member";

/** Checks what an app relies on: the id, the name and who is in it with which role. */
function isGroup(v: unknown): v is Group {
  return (
    isObject(v) &&
    typeof v.id === "string" &&
    v.id.startsWith("group:") &&
    typeof v.name === "string" &&
    Array.isArray(v.members) &&
    v.members.every((m) => isObject(m) && typeof m.user === "string" && isRole(m.role))
  );
}

const groupPath = (id: string) => `/v1/groups/${encodeURIComponent(id)}`;
const memberPath = (id: string, user: string) => `${groupPath(id)}/members/${encodeURIComponent(user)}`;

export class Groups {
  private readonly api: Api;

  constructor(api: Api) {
    this.api = api;
  }

  create({ name, members, idempotencyKey }: NewGroup): Promise<Group> {
    const headers = idempotencyKey === undefined ? undefined : { "Idempotency-Key": idempotencyKey };
    return this.api.call("/v1/groups", { method: "POST", body: { name, members }, headers }, isGroup);
  }

  get(id: string): Promise<Group> {
    return this.api.call(groupPath(id), {}, isGroup);
  }

  rename(id: string, name: string): Promise<Group> {
    return this.api.call(groupPath(id), { method: "PATCH", body: { name } }, isGroup);
  }

  addMember(id: string, user: string, role: GroupRole): Promise<Group> {
    return this.api.call(`${groupPath(id)}/members`, { method: "POST", body: { user, role } }, isGroup);
  }

  /** A batch of up to 1,000 users; those already in the group are skipped (PROTOCOL.md, Large groups). */
  addMembers(id: string, users: string[], role: GroupRole = "member"): Promise<Group> {
    return this.api.call(`${groupPath(id)}/members`, { method: "POST", body: { users, role } }, isGroup);
  }

  setRole(id: string, user: string, role: GroupRole): Promise<Group> {
    return this.api.call(memberPath(id, user), { method: "PUT", body: { role } }, isGroup);
  }

  removeMember(id: string, user: string): Promise<Group> {
    return this.api.call(memberPath(id, user), { method: "DELETE" }, isGroup);
  }
}
