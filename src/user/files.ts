/**
 * The user's uploads (PROTOCOL.md, Files), as their own object keeps them:
 * the daily byte allowance (MAX_FILE_BYTES_PER_DAY) and a row per file, so
 * that retention, erasure and a delete for everyone can remove the bytes
 * from R2 without ever listing the bucket. The bytes themselves go straight
 * from the Worker to R2; this object only counts them.
 */
import type { User } from "./context.ts";

export interface Upload {
  id: string;
  conversation: string;
  size: number;
}

const DAY_MS = 86_400_000;

/** R2 deletes at most this many keys per call. */
const DELETE_BATCH = 1000;

/**
 * Charges an upload to today's allowance and records the file, before any
 * byte is stored: two uploads at once cannot both fit in the last of the
 * allowance. Returns the UTC day charged (for `release`), or null when the
 * file does not fit in what is left today.
 */
export function reserve(u: User, file: Upload, now: number): number | null {
  const day = Math.floor(now / DAY_MS);
  const sql = u.db.write;
  const used = sql.exec<{ bytes: number }>("SELECT bytes FROM file_bytes WHERE day = ?", day).toArray()[0]?.bytes ?? 0;
  if (used + file.size > u.config.maxFileBytesPerDay) return null;
  sql.exec("DELETE FROM file_bytes WHERE day < ?", day);
  sql.exec("INSERT INTO file_bytes (day, bytes) VALUES (?1, ?2) ON CONFLICT (day) DO UPDATE SET bytes = bytes + ?2", day, file.size);
  sql.exec("INSERT INTO files (id, conversation, size, created) VALUES (?, ?, ?, ?)", file.id, file.conversation, file.size, now);
  if (Number.isFinite(u.config.retentionMs)) u.alarm.armNow(now + u.config.retentionMs);
  return day;
}

/** An upload that did not complete (cut off, or R2 refused it): no file, and no charge. */
export function release(u: User, id: string, day: number): void {
  if (!u.db.exists) return;
  const size = u.db.sql.exec<{ size: number }>("SELECT size FROM files WHERE id = ?", id).toArray()[0]?.size;
  if (size === undefined) return;
  u.db.sql.exec("DELETE FROM files WHERE id = ?", id);
  u.db.sql.exec("UPDATE file_bytes SET bytes = max(bytes - ?, 0) WHERE day = ?", size, day);
}

/** The uploader deleted the file (its bytes are gone from R2 already); the day's charge stays. */
export function forget(u: User, id: string): void {
  if (u.db.exists) u.db.sql.exec("DELETE FROM files WHERE id = ?", id);
}

/**
 * A delete for everyone of the user's own FILE_MESSAGE (in the commit that
 * erases it): the file it names goes too, if the user uploaded it to that
 * same conversation, never a file someone else uploaded or one of another
 * conversation. The alarm, set to now, removes the bytes (and retries).
 */
export function doomNamedFile(u: User, messageId: string, conversation: string, now: number): void {
  // The one place the server looks into a payload: a FILE_MESSAGE by reference names its file (an
  // encrypted payload names none, and its file then leaves with retention or erasure).
  const fileId = u.db.sql
    .exec<{ file: SqlStorageValue }>(
      "SELECT json_extract(frame, '$.message.file') AS file FROM log WHERE id = ? AND json_extract(frame, '$.content') = 'FILE_MESSAGE'",
      messageId,
    )
    .toArray()[0]?.file;
  if (typeof fileId !== "string") return;
  const doomed = u.db.sql.exec("UPDATE files SET doomed = 1 WHERE id = ? AND conversation = ?", fileId, conversation).rowsWritten;
  if (doomed > 0) u.alarm.armNow(now);
}

/**
 * Removes from R2 the files a delete for everyone doomed and those older
 * than `cutoff` (retention). Returns when the oldest file left was uploaded,
 * for the next alarm, or null.
 */
export async function sweep(u: User, cutoff: number): Promise<number | null> {
  if (!u.db.exists) return null;
  const ids = u.db.sql
    .exec<{ id: string }>("SELECT id FROM files WHERE doomed = 1 OR created < ?", cutoff)
    .toArray()
    .map((r) => r.id);
  await removeObjects(u, ids);
  for (const id of ids) u.db.sql.exec("DELETE FROM files WHERE id = ?", id);
  return u.db.sql.exec<{ oldest: number | null }>("SELECT min(created) AS oldest FROM files").one().oldest;
}

/** Erasure: every file the user uploaded leaves R2 before the object's storage goes. */
export async function removeAll(u: User): Promise<void> {
  if (!u.db.exists) return;
  await removeObjects(
    u,
    u.db.sql
      .exec<{ id: string }>("SELECT id FROM files")
      .toArray()
      .map((r) => r.id),
  );
}

async function removeObjects(u: User, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += DELETE_BATCH) await u.env.FILES.delete(ids.slice(i, i + DELETE_BATCH));
}
