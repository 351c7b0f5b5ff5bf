// The page's DOM: the sidebar, the open conversation's header, bubbles,
// ticks and "typing…", and a group's member list. Reads the view model
// (model.js), never changes it.
import { isFilePayload } from "./client.js";
import { isMessage } from "./model.js";

const TICK = { failed: "failed", pending: "◷", received: "✓", delivered: "✓✓", read: "✓✓" };
/** Closer than this to the bottom, a new message keeps the view pinned there. */
const PINNED_PX = 80;

const $ = (selector) => document.querySelector(selector);
const messages = () => $("#messages");

/**
 * @param {import("./model.js").Chat[]} chats most recent first
 * @param {{me: string, current: string, open: (peer: string) => void, presence: import("./model.js").Chats["presence"]}} options
 */
export function renderList(chats, { me, current, open, presence }) {
  $("#conversations").replaceChildren(
    ...chats.map((c) => {
      const li = document.createElement("li");
      li.dataset.peer = c.peer;
      li.dataset.kind = c.kind;
      li.classList.toggle("current", c.peer === current);
      const name = document.createElement("strong");
      const status = c.kind === "direct" ? presence.get(c.peer) : undefined;
      if (status) name.append(dot(status));
      name.append(title(c));
      li.append(name);
      if (c.unread > 0) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.textContent = String(c.unread);
        li.append(badge);
      }
      const preview = document.createElement("span");
      preview.className = "preview";
      if (c.typing.size > 0) {
        preview.classList.add("typing");
        preview.textContent = c.kind === "group" ? typists(c) : "typing…";
      } else {
        preview.textContent = c.last ? summary(c.last, me) : "no messages yet";
      }
      li.append(preview);
      li.addEventListener("click", () => open(c.peer));
      return li;
    }),
  );
}

/** The open conversation's name, and what is known about it: a peer's presence, a group's size. */
export function showHeader(chat, presence) {
  $("#peer").textContent = title(chat);
  const status = $("#peer-status");
  const toggle = $("#members-toggle");
  toggle.hidden = chat.kind !== "group" || !chat.member;
  if (chat.kind === "group") {
    status.textContent = chat.member ? (chat.members ? `${chat.members.size} members` : "") : "not a member";
    status.dataset.status = "";
    toggle.textContent = chat.members ? `Members (${chat.members.size})` : "Members";
    return;
  }
  const seen = chat.kind === "direct" ? presence.get(chat.peer) : undefined;
  status.textContent = seen ? lastSeen(seen) : "";
  status.dataset.status = seen?.status ?? "";
}

/** Who is typing in the open conversation. */
export function showTyping(chat) {
  $("#typing").textContent = chat.typing.size > 0 ? typists(chat) : "";
}

/** The composer while the user may write here; a note instead once they left the group or were removed. */
export function showComposer(chat) {
  $("#composer").hidden = !chat.member;
  $("#chat-note").hidden = chat.member;
}

/**
 * A group's member list: every member with their role; admins get a Remove
 * button for each other member and the Add form; members may leave.
 */
export function showMembers(chat, { me, visible, remove }) {
  const panel = $("#members");
  panel.hidden = !visible || chat.kind !== "group" || !chat.member;
  if (panel.hidden) return;
  const admin = chat.members?.get(me)?.role === "admin";
  $("#member-list").replaceChildren(
    ...[...(chat.members ?? [])].map(([user, { role }]) => {
      const li = document.createElement("li");
      li.dataset.user = user;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = user === me ? `${user} (you)` : user;
      li.append(name);
      if (role === "admin") {
        const tag = document.createElement("span");
        tag.className = "role";
        tag.textContent = "admin";
        li.append(tag);
      }
      if (admin && user !== me) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "remove";
        button.textContent = "Remove";
        button.addEventListener("click", () => remove(user));
        li.append(button);
      }
      return li;
    }),
  );
  $("#add-member").hidden = !admin;
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
  if (msg.content === "GROUP_EVENT") {
    li.className = "event";
    li.textContent = describe(msg, me);
    msg.el = li;
    return li;
  }
  li.className = msg.from === me ? "msg mine" : "msg";
  // In a group, whose message it is; a direct conversation has only the two of you.
  if (msg.from !== me && msg.peer.startsWith("group:")) {
    const sender = document.createElement("span");
    sender.className = "sender";
    sender.textContent = msg.from;
    li.append(sender);
  }
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
  if (msg.content === "GROUP_EVENT") return describe(msg, me);
  const text = isFilePayload(msg.message) ? `File: ${msg.message.name}` : plain(msg.message);
  if (msg.from === me) return `You: ${text}`;
  return isMessage(msg) && msg.peer.startsWith("group:") ? `${msg.from}: ${text}` : text;
}

/** A conversation's title: a group's name (its id until the name is known), else the peer. */
function title(chat) {
  return chat.kind === "group" ? (chat.name ?? "Group") : chat.peer;
}

function dot(status) {
  const span = document.createElement("span");
  span.className = "dot";
  span.dataset.status = status.status;
  span.title = lastSeen(status);
  return span;
}

/** "online", "last seen 14:05" (today), "last seen 27 Nov, 14:05", or "offline" when never seen. */
function lastSeen({ status, lastSeen }) {
  if (status === "online") return "online";
  if (lastSeen === null) return "offline";
  const at = new Date(lastSeen);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const today = at.toDateString() === new Date().toDateString();
  return `last seen ${today ? time : `${at.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`}`;
}

/** "bob is typing…", "bob and carol are typing…", "4 people are typing…". */
function typists(chat) {
  const names = [...chat.typing];
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** A group event in words, as its line in the conversation and in the sidebar. */
function describe(msg, me) {
  const { event, user, role, name } = msg.message;
  const who = (u) => (u === me ? "you" : u);
  const actor = msg.from === me ? "You" : msg.from;
  switch (event) {
    case "created":
      return `${actor} created the group “${name}”`;
    case "member_added":
      return `${actor} added ${who(user)}`;
    case "member_removed":
      return `${actor} removed ${who(user)}`;
    case "member_left":
      return `${user === me ? "You" : user} left`;
    case "role_changed":
      // The server promotes someone itself when the last admin goes.
      return msg.from === "system"
        ? `${user === me ? "You are" : `${user} is`} now ${article(role)}`
        : `${actor} made ${who(user)} ${article(role)}`;
    case "renamed":
      return `${actor} renamed the group to “${name}”`;
    default:
      // History is not filtered by event name: a newer server's event still gets a line.
      return `${actor} changed the group`;
  }
}

function article(role) {
  return role === "admin" ? "an admin" : "a member";
}

/** A payload as text: strings as they are, anything else (a notice's object, say) as JSON. */
function plain(message) {
  return typeof message === "string" ? message : JSON.stringify(message);
}
