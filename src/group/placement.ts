/**
 * Which fan-out object delivers to each member (PROTOCOL.md, Large groups).
 * Up to GROUP_SHARD_SIZE members the group object delivers to every member
 * itself; above it, shards of up to that many members do, numbered from 0,
 * so the group object makes one call per shard and each shard one per
 * member. Run after every change to the membership, in its commit: new
 * members are placed, and members are moved (spans.ts) when the group needs
 * more shards, or could do with half as many (the slack keeps a group at a
 * boundary from moving everyone back and forth on every add and remove).
 */
import type { GroupRole } from "../protocol/frames.ts";
import type { Group } from "./context.ts";
import type { Deliverer } from "./spans.ts";

/** How many shards a group of `n` members should have, with `current` now (0: none, the group delivers itself). */
export function shardsFor(n: number, size: number, current: number): number {
  const needed = n > size ? Math.ceil(n / size) : 0;
  if (current === 0 || needed > current) return needed;
  if (n <= size / 2) return 0;
  return Math.ceil((2 * n) / size) < current ? Math.max(1, needed) : current;
}

/**
 * Adds `fresh` members, whose first frame is the event at `at`, and moves
 * others as the new size needs. Members leave before this runs (their
 * spans end at their own event), so `at` is the latest frame of the log.
 */
export function place(g: Group, fresh: { user: string; role: GroupRole }[], at: number, now: number): void {
  const counts = g.members.perShard();
  const n = [...counts.values()].reduce((a, b) => a + b, 0) + fresh.length;
  const current = Math.max(0, ...[...counts.keys()].map((s) => (s === null ? 0 : s + 1)));
  const size = g.config.groupShardSize;
  const k = shardsFor(n, size, current);
  const room = new Map<Deliverer, number>();
  if (k === 0) room.set(null, size - (counts.get(null) ?? 0));
  for (let s = 0; s < k; s++) room.set(s, size - (counts.get(s) ?? 0));
  const slot = (): Deliverer => {
    for (const [by, free] of room) {
      if (free > 0) {
        room.set(by, free - 1);
        return by;
      }
    }
    // Unreachable: shardsFor gives room for every member.
    throw new Error(`no room for a member in a group of ${n} with ${k} shards`);
  };
  for (const [by] of counts) {
    if (room.has(by)) continue;
    for (const user of g.members.on(by)) {
      const to = slot();
      g.spans.move(user, at, by, to);
      g.members.setShard(user, to);
    }
  }
  for (const { user, role } of fresh) {
    const to = slot();
    g.members.add(user, role, now, to);
    g.spans.open(user, at, g.spans.returning(user, to), to);
  }
}
