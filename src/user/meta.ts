/** Small facts about the user, kept in the `meta` table (see schema.ts). */
import type { User } from "./context.ts";

export type MetaKey = "lastSeen" | "suspendedUntil";

/** The fact, or null; a user with no tables has none (and this reads nothing). */
export function readMeta(u: User, key: MetaKey): number | null {
  if (!u.db.exists) return null;
  return u.db.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
}

export function writeMeta(u: User, key: MetaKey, value: number): void {
  u.db.write.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
}
