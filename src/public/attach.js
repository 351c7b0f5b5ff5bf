// Attachments: Attach and drag-and-drop upload any file up to the server's
// limit through POST /v1/files, with a progress bar, then send the
// FILE_MESSAGE that names it; a received one shows a raster image inline
// (fetched with the token, shown from an object URL: an <img> cannot send
// a bearer header) and any other file as a link with its name and size,
// fetched and saved on click. The file never runs as a page of this
// origin: the server serves it as an attachment or as a sandboxed image.
import { ApiError } from "./client.js";
import { formatSize } from "./format.js";

/** The server's default MAX_FILE_BYTES; a larger file is refused here rather than sent for a 413. */
export const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
/** What the server serves inline with its own type (PROTOCOL.md, Files); the page shows these in the bubble. */
const INLINE_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);

const $ = (selector) => document.querySelector(selector);

/** @type {import("./client.js").LunarLoomClient | null} */
let client = null;
/** Object URLs by file id, so a bubble drawn again (windows, reopening) does not fetch again. */
const objectUrls = new Map();

/** A FILE_MESSAGE's `message` that names an uploaded file. */
export function isFileRef(v) {
  return typeof v === "object" && v !== null && typeof v.file === "string" && typeof v.name === "string" && typeof v.size === "number";
}

/** A received file as bubble content: the image (if one the page shows inline), and a link with name and size. */
export function fileRefNodes(ref) {
  const nodes = [];
  if (INLINE_IMAGES.has(String(ref.type).toLowerCase())) {
    const img = document.createElement("img");
    img.alt = ref.name;
    img.className = "attachment";
    img.dataset.file = ref.file;
    void objectUrl(ref.file).then(
      (url) => {
        img.src = url;
      },
      () => img.replaceWith(missing(ref)),
    );
    nodes.push(img);
  }
  const link = document.createElement("a");
  link.className = "file";
  link.href = "#";
  link.dataset.file = ref.file;
  link.textContent = `${ref.name} (${formatSize(ref.size)})`;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    void save(ref, link);
  });
  nodes.push(link);
  return nodes;
}

function objectUrl(fileId) {
  let url = objectUrls.get(fileId);
  if (!url) {
    if (!client) return Promise.reject(new Error("not signed in"));
    url = client.download(fileId).then((blob) => URL.createObjectURL(blob));
    // A failed fetch (deleted, no longer a member) may work later (the network): not cached.
    url.catch(() => objectUrls.delete(fileId));
    objectUrls.set(fileId, url);
  }
  return url;
}

/** Fetches the file and hands it to the browser's download, under its own name. */
async function save(ref, link) {
  try {
    const a = document.createElement("a");
    a.href = await objectUrl(ref.file);
    a.download = ref.name;
    a.click();
  } catch (err) {
    link.replaceWith(missing(ref, err));
  }
}

function missing(ref, err) {
  const span = document.createElement("span");
  span.className = "file missing";
  span.textContent = `${ref.name}: ${err instanceof ApiError && err.status === 404 ? "no longer available" : "could not be loaded"}`;
  return span;
}

export class Attachments {
  /**
   * @param {{
   *   client: import("./client.js").LunarLoomClient,
   *   current: () => string,
   *   sent: (outgoing: import("./client.js").Outgoing) => void,
   *   error: (text: string) => void,
   * }} deps
   */
  constructor(deps) {
    this.deps = deps;
    client = deps.client;
    objectUrls.clear();
    /** Files waiting their turn: one upload at a time, in the order dropped. */
    this.queue = Promise.resolve();
    $("#composer input[name=file]").addEventListener("change", (event) => {
      const input = event.target;
      const files = [...(input.files ?? [])];
      input.value = "";
      this.add(files);
    });
    const pane = $("#chat");
    pane.addEventListener("dragover", (event) => {
      if (!this.deps.current() || !event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      pane.classList.add("dropping");
    });
    pane.addEventListener("dragleave", (event) => {
      if (!pane.contains(/** @type {Node} */ (event.relatedTarget))) pane.classList.remove("dropping");
    });
    pane.addEventListener("drop", (event) => {
      pane.classList.remove("dropping");
      if (!this.deps.current() || !event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
  }

  /** Uploads each file into the conversation open now, one after another. */
  add(files) {
    const to = this.deps.current();
    if (!to) return;
    for (const file of files) this.queue = this.queue.then(() => this.upload(file, to));
  }

  async upload(file, to) {
    if (file.size > MAX_UPLOAD_BYTES) {
      this.deps.error(`${file.name} is ${formatSize(file.size)}; files up to ${formatSize(MAX_UPLOAD_BYTES)} can be sent.`);
      return;
    }
    const bar = progressBar(file);
    try {
      const { message } = await this.deps.client.upload(file, to, {
        onProgress: ({ loaded, total }) => {
          bar.value.value = total === 0 ? 1 : loaded / total;
        },
      });
      this.deps.sent(message);
    } catch (err) {
      this.deps.error(`${file.name} was not sent: ${err instanceof ApiError ? err.reason : err.message}`);
    } finally {
      bar.row.remove();
    }
  }
}

/** A row above the composer: the file's name and a bar that fills as its bytes go out. */
function progressBar(file) {
  const row = document.createElement("div");
  row.className = "upload";
  const label = document.createElement("span");
  label.textContent = `${file.name} (${formatSize(file.size)})`;
  const value = document.createElement("progress");
  value.max = 1;
  value.value = 0;
  row.append(label, value);
  $("#composer").before(row);
  return { row, value };
}
