// The page's DOM: the sidebar, bubbles and ticks. Reads the view model
// (model.js), never changes it.
import { isFilePayload } from "./client.js";

const TICK = { failed: "failed", pending: "◷", received: "✓", delivered: "✓✓", read: "✓✓" };
/** Closer than this to the bottom, a new message keeps the view pinned there. */
const PINNED_PX = 80;

const messages = () => document.querySelector("#messages");

/** @param {import("./model.js").Chat[]} chats most recent first */
export function renderList(chats, { me, current, open }) {
  document.querySelector("#conversations").replaceChildren(
    ...chats.map((c) => {
      const li = document.createElement("li");
      li.dataset.peer = c.peer;
      li.classList.toggle("current", c.peer === current);
      const name = document.createElement("strong");
      name.textContent = c.peer;
      li.append(name);
      if (c.unread > 0) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(c.unread);
        li.append(badge);
      }
      const preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = c.last ? summary(c.last, me) : "no messages yet";
      li.append(preview);
      li.addEventListener("click", () => open(c.peer));
      return li;
    }),
  );
}

/** The open conversation's bubbles, scrolled to the newest. */
export function showChat(chat, me) {
  const list = messages();
  list.replaceChildren(start(chat), ...chat.items.map((m) => bubble(m, me)));
  list.scrollTop = list.scrollHeight;
}

export function append(msg, me) {
  const list = messages();
  const pinned = list.scrollHeight - list.scrollTop - list.clientHeight < PINNED_PX;
  list.append(bubble(msg, me));
  if (pinned || msg.from === me) list.scrollTop = list.scrollHeight;
}

/** An older page above what is on screen, without moving what the reader looks at. */
export function prepend(chat, msgs, me) {
  const list = messages();
  const fromBottom = list.scrollHeight - list.scrollTop;
  list.firstElementChild.after(...msgs.map((m) => bubble(m, me)));
  list.firstElementChild.replaceWith(start(chat));
  list.scrollTop = list.scrollHeight - fromBottom;
}

/** The line above the oldest bubble: more to load, loading, or the start. */
export function showStart(chat) {
  messages().firstElementChild?.replaceWith(start(chat));
}

export function remove(msg) {
  msg.el?.remove();
}

export function tick(msg) {
  if (!msg.el || !msg.status) return;
  msg.el.dataset.status = msg.status;
  let tick = msg.el.querySelector(".tick");
  if (!tick) {
    tick = document.createElement("span");
    tick.className = "tick";
    msg.el.querySelector(".meta").append(tick);
  }
  tick.textContent = TICK[msg.status];
  tick.title = msg.error ?? msg.status;
}

/** True when the reader has scrolled up to the oldest bubbles. */
export function atTop() {
  return messages().scrollTop < PINNED_PX;
}

/** True when the bubbles do not fill the view, so there is no scrolling up to ask for more. */
export function short() {
  const list = messages();
  return list.scrollHeight <= list.clientHeight + PINNED_PX;
}

export function formatSize(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`;
}

function start(chat) {
  const li = document.createElement("li");
  li.className = "start";
  li.textContent = !chat.loaded || chat.loading ? "Loading…" : chat.next === null ? "Start of the conversation" : "";
  return li;
}

function bubble(msg, me) {
  const li = document.createElement("li");
  li.className = msg.from === me ? "msg mine" : "msg";
  const body = document.createElement("div");
  body.className = "body";
  if (msg.content === "FILE_MESSAGE" && isFilePayload(msg.message)) {
    const file = msg.message;
    const href = `data:${file.type || "application/octet-stream"};base64,${file.data}`;
    if (file.type.startsWith("image/")) {
      const img = document.createElement("img");
      img.src = href;
      img.alt = file.name;
      body.append(img);
    }
    const link = document.createElement("a");
    link.className = "file";
    link.href = href;
    link.download = file.name;
    link.textContent = `${file.name} (${formatSize(file.size)})`;
    body.append(link);
  } else {
    body.textContent = plain(msg.message);
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  const time = document.createElement("time");
  time.dateTime = msg.time;
  time.textContent = new Date(msg.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(time);
  li.append(body, meta);
  msg.el = li;
  if (msg.from === me) tick(msg);
  return li;
}

function summary(msg, me) {
  const text = isFilePayload(msg.message) ? `File: ${msg.message.name}` : plain(msg.message);
  return msg.from === me ? `You: ${text}` : text;
}

/** A payload as text: strings as they are, anything else (a notice's object, say) as JSON. */
function plain(message) {
  return typeof message === "string" ? message : JSON.stringify(message);
}
