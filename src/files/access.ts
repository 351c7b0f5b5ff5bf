/**
 * Who may put a file into a conversation and who may read it (PROTOCOL.md,
 * Files). A file's R2 object carries its uploader and conversation in its
 * custom metadata, so a download needs no index: the uploader always, the
 * direct peer, or a current member of the group (one RPC to the group's
 * object). Anyone else is told there is no such file.
 */
import { isGroupId, SYSTEM } from "../protocol/frames.ts";

/** What a file's R2 object says about it (custom metadata, written once at upload). */
export interface FileMeta {
  uploader: string;
  conversation: string;
  name: string;
  created: string;
}

/** The shape of every file id (crypto.randomUUID()): anything else is no file, and R2 is never asked. */
const FILE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isFileId(id: string): boolean {
  return FILE_ID.test(id);
}

export function metaOf(object: R2Object): FileMeta | null {
  const m = object.customMetadata;
  if (!m?.uploader || !m.conversation || !m.name || !m.created) return null;
  return { uploader: m.uploader, conversation: m.conversation, name: m.name, created: m.created };
}

/** A conversation the user may send to: any direct one (as a message may start one), or a group they are in now. */
export async function mayUpload(env: Env, user: string, conversation: string): Promise<boolean> {
  if (conversation === SYSTEM) return false;
  return !isGroupId(conversation) || env.GROUPS.getByName(conversation).isMember(user);
}

/** The uploader (even after leaving the group), the direct peer, or a current member of the group. */
export async function mayRead(env: Env, user: string, file: FileMeta): Promise<boolean> {
  if (file.uploader === user) return true;
  if (isGroupId(file.conversation)) return env.GROUPS.getByName(file.conversation).isMember(user);
  return file.conversation === user;
}
