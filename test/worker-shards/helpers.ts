/**
 * Groups through the fan-out tree (GROUP_SHARD_SIZE=3 in this project): a
 * group's frames as each member's object logged them, and where the group
 * object says each member is delivered from.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Client, createGroup } from "../worker/helpers.ts";

/** The ids of a user's logged frames of one group (messages and events), in log order. */
export function groupLog(user: string, group: string): Promise<string[]> {
  return runInDurableObject(env.USERS.getByName(user), (_o, state) =>
    state.storage.sql
      .exec<{ id: string }>("SELECT id FROM log WHERE conversation = ? AND type IN ('USER_MSG', 'GROUP_EVENT') ORDER BY seq", group)
      .toArray()
      .map((r) => r.id),
  ).catch(() => []);
}

/** The group's frame ids in the group's order (its own log). */
export function groupOrder(group: string): Promise<string[]> {
  return runInDurableObject(env.GROUPS.getByName(group), (_o, state) =>
    state.storage.sql
      .exec<{ id: string }>("SELECT id FROM frames WHERE type IN ('USER_MSG', 'GROUP_EVENT') ORDER BY gseq")
      .toArray()
      .map((r) => r.id),
  );
}

/** How many members each fan-out object of the group delivers to (`direct`: the group object itself). */
export function placement(group: string): Promise<Record<string, number>> {
  return runInDurableObject(env.GROUPS.getByName(group), (_o, state) =>
    Object.fromEntries(
      state.storage.sql
        .exec<{ shard: number | null; n: number }>("SELECT shard, count(*) AS n FROM members GROUP BY shard ORDER BY shard")
        .toArray()
        .map((r) => [r.shard === null ? "direct" : `shard ${r.shard}`, r.n]),
    ),
  );
}

/** `n` connected users and a group of them (the first is its admin), each having seen its `created` event. */
export async function connectedGroup(n: number, prefix: string): Promise<{ id: string; members: Client[] }> {
  const members = await Promise.all(
    Array.from({ length: n }, (_, i) => Client.connect(`${prefix}-${i}-${crypto.randomUUID().slice(0, 6)}`)),
  );
  const id = await createGroup(
    members[0]!.user,
    members.slice(1).map((c) => c.user),
  );
  await Promise.all(members.map((c) => c.expect({ content: "GROUP_EVENT", to: id }, 20_000)));
  return { id, members };
}

export const send = (c: Client, to: string, id: string, message: unknown) =>
  c.send({ id, to, type: "USER_MSG", content: "TEXT_MESSAGE", message });
