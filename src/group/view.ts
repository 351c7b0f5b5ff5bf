/**
 * What the group routes answer (PROTOCOL.md, Groups): the group as its
 * members see it, or a refusal in the HTTP error shape. RPC results are
 * plain data, so refusals are values, not thrown errors.
 */
import { isoSecond } from "../protocol/build.ts";
import type { GroupRole } from "../protocol/frames.ts";
import type { Group } from "./context.ts";

export interface MemberView {
  user: string;
  role: GroupRole;
  joined: string;
  deliveredUpTo: string | null;
  readUpTo: string | null;
}

export interface GroupView {
  id: string;
  name: string;
  created: string;
  members: MemberView[];
}

export interface Refusal {
  status: 400 | 403 | 404 | 409;
  error: string;
  reason: string;
}

export type GroupResult = { ok: true; group: GroupView } | ({ ok: false } & Refusal);

export function refuse(status: Refusal["status"], error: string, reason: string): GroupResult {
  return { ok: false, status, error, reason };
}

/** The refusal of an add that a block forbids: it must not say why (PROTOCOL.md, Blocking). */
export const CANNOT_ADD = "you cannot add this user";

/** The same answer for "no such group" and "not yours to see": no group's existence leaks. */
export const NOT_FOUND = (): GroupResult => refuse(404, "not_found", "no such group");

export function view(g: Group): GroupView {
  const info = g.db.sql.exec<{ name: string; created: number }>("SELECT name, created FROM info").one();
  return {
    id: g.id,
    name: info.name,
    created: isoSecond(info.created),
    members: g.members.all().map((m) => ({
      user: m.user,
      role: m.role,
      joined: isoSecond(m.joined),
      deliveredUpTo: m.delivered_id,
      readUpTo: m.read_id,
    })),
  };
}
