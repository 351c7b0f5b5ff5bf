/**
 * Files over HTTP (PROTOCOL.md, Files): an upload goes to `POST /v1/files`
 * with its length (the server streams it into R2), reporting progress as its
 * bytes go out, and a download comes back as a Blob. Browsers upload with
 * XMLHttpRequest, the one API that reports an upload's progress there
 * (fetch cannot stream a request body over HTTP/1.1); elsewhere (Node 22)
 * fetch streams a counted body with the length set. Refusals are the
 * ApiError of api.ts.
 */
import { ApiError } from "./api.ts";
import type { Tokens } from "./tokens.ts";

/** What a FILE_MESSAGE carries to name an uploaded file (its `message`). */
export interface FileRef {
  file: string;
  name: string;
  type: string;
  size: number;
}

/** The server's description of a stored file. */
export interface StoredFile extends FileRef {
  conversation: string;
  created: string;
  /** The download path, `/v1/files/<file id>`. */
  url: string;
}

export interface UploadProgress {
  /** Bytes handed to the network so far. */
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** The name the others see; defaults to the File's own name (a Blob has none: "file"). */
  name?: string;
  /** Called as the bytes go out, last with `loaded === total`. */
  onProgress?: (progress: UploadProgress) => void;
}

/** The `fetch` the client was given, called here with a streamed body. */
export type FileFetch = (url: string, init: RequestInit & { duplex?: "half" }) => Promise<Response>;

type Answer = { status: number; text: string };

/** How much of a file goes to the network at a time outside browsers: small enough for smooth progress. */
const CHUNK_BYTES = 64 * 1024;

/** The part of a browser's XMLHttpRequest an upload uses (the Workers types the server is built with have no DOM). */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  upload: { onprogress: ((e: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  readonly status: number;
  readonly responseText: string;
  send(body: Blob): void;
}
type XhrConstructor = new () => XhrLike;

export class Files {
  private readonly base: URL;
  private readonly tokens: Tokens;
  private readonly fetch: FileFetch;

  constructor(base: URL, tokens: Tokens, fetch: FileFetch) {
    this.base = base;
    this.tokens = tokens;
    this.fetch = fetch;
  }

  /** Uploads into a conversation (a user id or a group id); the stored file's description. */
  async upload(blob: Blob, conversation: string, options: UploadOptions = {}): Promise<StoredFile> {
    const url = new URL("/v1/files", this.base);
    url.searchParams.set("conversation", conversation);
    url.searchParams.set("name", options.name ?? ((blob as Partial<File>).name || "file"));
    const progress = options.onProgress ?? (() => undefined);
    const { token, reused } = await this.tokens.current();
    let answer = await this.post(url.href, blob, token, progress);
    // A reused token may have been revoked: the server answers 401 before reading the body, so once more.
    if (answer.status === 401 && reused) answer = await this.post(url.href, blob, await this.tokens.fresh(), progress);
    const body = parse(answer);
    if (answer.status !== 201 || !isStoredFile(body)) throw refusal(answer.status, body, "POST /v1/files");
    progress({ loaded: blob.size, total: blob.size });
    return body;
  }

  /** A file's bytes, typed as the server serves them (an attachment's type is application/octet-stream). */
  async download(fileId: string): Promise<Blob> {
    const url = new URL(`/v1/files/${encodeURIComponent(fileId)}`, this.base).href;
    const { token, reused } = await this.tokens.current();
    let res = await this.fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status === 401 && reused) {
      await res.body?.cancel();
      res = await this.fetch(url, { headers: { Authorization: `Bearer ${await this.tokens.fresh()}` } });
    }
    if (!res.ok) throw refusal(res.status, await res.json().catch(() => undefined), `GET /v1/files/${fileId}`);
    return res.blob();
  }

  private post(url: string, blob: Blob, token: string, progress: (p: UploadProgress) => void): Promise<Answer> {
    const type = blob.type || "application/octet-stream";
    const XHR = (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
    if (XHR) return viaXhr(XHR, url, blob, token, type, progress);
    return viaFetch(this.fetch, url, blob, token, type, progress);
  }
}

function viaXhr(XHR: XhrConstructor, url: string, blob: Blob, token: string, type: string, progress: (p: UploadProgress) => void) {
  return new Promise<Answer>((resolve, reject) => {
    const xhr = new XHR();
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", type);
    xhr.upload.onprogress = (e) => progress({ loaded: e.loaded, total: blob.size });
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = () => reject(new ApiError(0, "network_error", "the upload did not reach the server"));
    xhr.send(blob);
  });
}

async function viaFetch(fetch: FileFetch, url: string, blob: Blob, token: string, type: string, progress: (p: UploadProgress) => void) {
  // Slices, not blob.stream(): a Blob made from one buffer streams as one chunk, and progress would jump from 0 to done.
  let loaded = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (loaded >= blob.size) return controller.close();
      const chunk = new Uint8Array(await blob.slice(loaded, loaded + CHUNK_BYTES).arrayBuffer());
      loaded += chunk.byteLength;
      progress({ loaded, total: blob.size });
      controller.enqueue(chunk);
    },
  });
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": type, "Content-Length": String(blob.size) };
  const res = await fetch(url, { method: "POST", headers, body, duplex: "half" });
  return { status: res.status, text: await res.text() };
}

function parse(answer: Answer): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    return undefined;
  }
}

function refusal(status: number, body: unknown, what: string): ApiError {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (status >= 200 && status < 300) return new ApiError(status, "bad_response", `${what} answered a body of another shape`);
  return new ApiError(status, typeof b.error === "string" ? b.error : `http_${status}`, typeof b.reason === "string" ? b.reason : what);
}

function isStoredFile(v: unknown): v is StoredFile {
  const f = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  return typeof f.file === "string" && typeof f.name === "string" && typeof f.type === "string" && Number.isSafeInteger(f.size);
}
