/**
 * Conversation settings (PROTOCOL.md, Blocking, reports and conversation
 * settings): `PATCH /v1/conversations/<id>` mutes (until a time), pins or
 * archives one of the user's conversations, for the user alone. What
 * changed is one SETTINGS_CHANGED frame, so the user's other devices follow;
 * a patch that changes nothing makes none.
 */
import { isoSecond } from "../protocol/build.ts";
import type { User } from "./context.ts";
import { settingsChanged } from "./settings.ts";

/** The fields a PATCH may set; `mutedUntil` in ms (null: not muted). */
export interface ConversationPatch {
  mutedUntil?: number | null;
  pinned?: boolean;
  archived?: boolean;
}

interface Current extends Record<string, SqlStorageValue> {
  muted_until: number | null;
  pinned: number;
  archived: number;
}

/** Applies the patch; the conversation as listed, or null if the user has no such conversation (a group they left is still theirs). */
export function updateConversation(u: User, id: string, patch: ConversationPatch, now: number): string | null {
  if (!u.db.exists) return null;
  const current = u.db.sql.exec<Current>("SELECT muted_until, pinned, archived FROM conversations WHERE id = ?", id).toArray()[0];
  if (!current) return null;
  // Whole seconds, as the list shows it: the same time again is no change.
  const mutedUntil = patch.mutedUntil == null ? patch.mutedUntil : Math.floor(patch.mutedUntil / 1000) * 1000;
  const change: { mutedUntil?: string | null; pinned?: boolean; archived?: boolean } = {};
  if (mutedUntil !== undefined && mutedUntil !== current.muted_until)
    change.mutedUntil = mutedUntil === null ? null : isoSecond(mutedUntil);
  if (patch.pinned !== undefined && patch.pinned !== (current.pinned === 1)) change.pinned = patch.pinned;
  if (patch.archived !== undefined && patch.archived !== (current.archived === 1)) change.archived = patch.archived;
  if (Object.keys(change).length > 0) {
    u.db.sql.exec(
      "UPDATE conversations SET muted_until = ?, pinned = ?, archived = ? WHERE id = ?",
      mutedUntil === undefined ? current.muted_until : mutedUntil,
      (patch.pinned ?? current.pinned === 1) ? 1 : 0,
      (patch.archived ?? current.archived === 1) ? 1 : 0,
      id,
    );
    settingsChanged(u, { conversation: id, ...change }, now);
  }
  return u.conversations.one(id, now);
}
