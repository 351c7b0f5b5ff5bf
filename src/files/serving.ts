/**
 * How a stored file is served (PROTOCOL.md, Files) so that none can run as a
 * page of the app's origin: never sniffed, sandboxed if a browser renders it
 * anyway, and downloaded as opaque bytes unless it is a raster image, audio
 * or video (the types a browser shows without running anything). SVG, HTML
 * and XML are documents that can hold script: always attachments.
 */

/** Raster images shown inline; `audio/*` and `video/*` too. */
const INLINE_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);

/** The media type a file is served inline as, or null for an attachment. */
export function inlineType(type: string): string | null {
  // The essence only: parameters (`; charset=`) have no say in how the bytes are shown.
  const essence = type.split(";")[0]!.trim().toLowerCase();
  if (INLINE_IMAGES.has(essence) || /^(audio|video)\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(essence)) return essence;
  return null;
}

/** The headers every download carries: type, disposition with the file's name, and the guards. */
export function servingHeaders(type: string, name: string, etag: string): Headers {
  const inline = inlineType(type);
  return new Headers({
    "Content-Type": inline ?? "application/octet-stream",
    "Content-Disposition": `${inline ? "inline" : "attachment"}; ${filenameParams(name)}`,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Accept-Ranges": "bytes",
    // Access is checked per request: no shared cache may keep a copy.
    "Cache-Control": "private, no-cache",
    ETag: etag,
  });
}

/** RFC 6266: an ASCII fallback for old clients, and the exact name in UTF-8. */
function filenameParams(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return `filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export type ByteRange = { offset: number; length: number };

/**
 * A `Range` header against a file of `size` bytes: one range, "unsatisfiable"
 * (416), or null for the whole file (no header, one this server does not
 * serve in parts such as a multi-range request, or one it cannot parse,
 * which RFC 9110 says to ignore).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | null {
  const m = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    // A suffix: the last n bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { offset: Math.max(size - n, 0), length: Math.min(n, size) };
  }
  const first = Number(m[1]);
  const last = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < first) return null;
  if (first >= size) return "unsatisfiable";
  return { offset: first, length: last - first + 1 };
}
