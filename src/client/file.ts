/**
 * FILE_MESSAGE payloads: `{ name, type, size, data }` with base64 `data`
 * (PROTOCOL.md, Sending a message). Works on any Blob, so on browser Files
 * and on Node 22's Blob alike.
 */
export interface FilePayload {
  name: string;
  /** MIME type; may be empty. */
  type: string;
  /** Bytes before encoding. */
  size: number;
  /** Base64. */
  data: string;
}

/** Base64 grows bytes by 4/3 and the frame has JSON around it: this many file bytes fit the default 64 KiB frame. */
export const MAX_FILE_BYTES = 45 * 1024;

// String.fromCharCode takes its bytes as arguments; chunking keeps it under engines' argument limits.
const CHUNK = 0x8000;

export async function filePayload(blob: Blob, name: string): Promise<FilePayload> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return { name, type: blob.type, size: bytes.length, data: btoa(binary) };
}

export function fileBytes(file: FilePayload): Uint8Array {
  const binary = atob(file.data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** True for a value shaped like a FilePayload, e.g. a received FILE_MESSAGE's `message`. */
export function isFilePayload(v: unknown): v is FilePayload {
  if (typeof v !== "object" || v === null) return false;
  const f = v as Record<string, unknown>;
  return typeof f.name === "string" && typeof f.type === "string" && typeof f.size === "number" && typeof f.data === "string";
}
