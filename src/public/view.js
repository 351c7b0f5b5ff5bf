// The open conversation's DOM: its header, its items (near the bottom
// first, older ones drawn as the reader scrolls up), a line between days, a
// "new messages" line above the first unread message, a button back to the
// newest, "typing…", and which screen a phone shows. Reads the view model
// (model.js), never changes it.
import { bubble } from "./bubble.js";
import { dayLabel, dayOf, lastSeen, title, typists } from "./format.js";

/** Closer than this to the bottom, a new message keeps the view pinned there. */
const PINNED_PX = 80;
/** Items drawn when a conversation opens, and drawn more per scroll to the top: enough to fill any screen, few enough to draw at once. */
const WINDOW = 60;
/** A first unread message further back than this opens the conversation at the newest instead (drawing all in between would be slow). */
const MAX_UNREAD_DRAWN = 200;

const $ = (selector) => document.querySelector(selector);
const list = () => $("#messages");

/** What is drawn: the conversation, the oldest item drawn, and the first unread message the "new messages" line sits above. */
const drawn = {
  /** @type {import("./model.js").Chat | null} */ chat: null,
  /** @type {import("./model.js").Msg | null} */ oldest: null,
  /** @type {import("./model.js").Msg | null} */ divider: null,
  /** Incoming messages that arrived while the reader was scrolled up, not seen yet. */
  unseen: 0,
  /** The reader is at the newest, as of their last scroll: new items keep the view there. */
  pinned: true,
};

/** Called with each incoming message's bubble as it is drawn (read tracking watches them). */
let drawnIncoming = (_el) => {};

export function onIncomingDrawn(callback) {
  drawnIncoming = callback;
}

/** Phones show one screen at a time: the list, the conversation, or a group's members. */
export function showScreen(screen) {
  document.body.dataset.screen = screen;
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
 * Draws a conversation: the newest items, or from a little above the first
 * unread one when that is loaded, with the "new messages" line above it and
 * the view scrolled to it; otherwise scrolled to the newest.
 */
export function showChat(chat, me, firstUnread) {
  drawn.chat = chat;
  drawn.divider = firstUnread;
  drawn.unseen = 0;
  let at = firstUnread ? chat.items.indexOf(firstUnread) : -1;
  if (chat.items.length - at > MAX_UNREAD_DRAWN) at = -1;
  const from = Math.max(0, at < 0 ? chat.items.length - WINDOW : Math.min(chat.items.length - WINDOW, at - 5));
  const items = chat.items.slice(from);
  drawn.oldest = items[0] ?? null;
  list().replaceChildren(start(chat), ...items.map((m) => draw(m, me)));
  separate();
  if (at >= 0 && firstUnread.el) {
    list().scrollTop += firstUnread.el.getBoundingClientRect().top - list().getBoundingClientRect().top - 40;
  } else list().scrollTop = list().scrollHeight;
  drawn.pinned = atBottom();
  showJump();
}

/** A new item in the open conversation, in its place. */
export function place(msg, me) {
  const chat = drawn.chat;
  if (!chat || msg.peer !== chat.peer) return;
  const items = chat.items;
  const at = items.indexOf(msg);
  // Older than anything drawn: it is drawn when the reader scrolls up to it.
  if (at < 0 || (drawn.oldest && at < items.indexOf(drawn.oldest))) return;
  const pinned = drawn.pinned;
  const next = items.slice(at + 1).find((m) => m.el?.isConnected);
  if (next) next.el.before(draw(msg, me));
  else list().append(draw(msg, me));
  drawn.oldest ??= msg;
  if (!next && msg.from !== me && !pinned) {
    // Arrived while the reader is scrolled up: a line above the first of them, and a count on the button.
    if (drawn.unseen === 0) drawn.divider = msg;
    drawn.unseen++;
  }
  separate();
  if (!next && (pinned || msg.from === me)) {
    list().scrollTop = list().scrollHeight;
    drawn.pinned = true;
  }
  showJump();
}

/** Draws more of the conversation above what is drawn; false if everything loaded is drawn. */
export function drawOlder(me) {
  const chat = drawn.chat;
  if (!chat) return false;
  const until = drawn.oldest ? chat.items.indexOf(drawn.oldest) : chat.items.length;
  if (until <= 0) return false;
  const items = chat.items.slice(Math.max(0, until - WINDOW), until);
  const fromBottom = list().scrollHeight - list().scrollTop;
  list().firstElementChild.after(...items.map((m) => draw(m, me)));
  drawn.oldest = items[0];
  separate();
  list().scrollTop = list().scrollHeight - fromBottom;
  return true;
}

/** The line above the oldest bubble: more to load, loading, or the start. */
export function showStart(chat) {
  list().firstElementChild?.replaceWith(start(chat));
}

export function remove(msg) {
  msg.el?.remove();
}

/** True when the reader has scrolled up to the oldest bubbles. */
export function atTop() {
  return list().scrollTop < PINNED_PX;
}

export function atBottom() {
  const l = list();
  return l.scrollHeight - l.scrollTop - l.clientHeight < PINNED_PX;
}

/** True when the bubbles do not fill the view, so there is no scrolling up to ask for more. */
export function short() {
  const l = list();
  return l.scrollHeight <= l.clientHeight + PINNED_PX;
}

/** The reader scrolled: at the newest, nothing is unseen any more, and new items keep the view there. */
export function scrolled() {
  drawn.pinned = atBottom();
  if (drawn.pinned) drawn.unseen = 0;
  showJump();
}

export function jumpToLatest() {
  list().scrollTo({ top: list().scrollHeight });
  drawn.pinned = true;
  drawn.unseen = 0;
  showJump();
}

/** The button back to the newest, while the reader is away from it. */
function showJump() {
  const jump = $("#jump");
  jump.hidden = atBottom();
  jump.textContent = drawn.unseen > 0 ? `↓ ${drawn.unseen} new` : "↓";
  jump.title = "Jump to the latest message";
}

function draw(msg, me) {
  const el = bubble(msg, me);
  if (msg.from !== me && msg.serverId !== undefined && msg.content !== "GROUP_EVENT") {
    el.dataset.id = msg.serverId;
    drawnIncoming(el);
  }
  return el;
}

/** The lines between days, and the "new messages" line, where the drawn items now need them. */
function separate() {
  const l = list();
  for (const line of l.querySelectorAll(":scope > .day, :scope > .divider")) line.remove();
  let day = "";
  for (const el of l.querySelectorAll(":scope > .msg, :scope > .event")) {
    const d = dayOf(el.dataset.time);
    if (d !== day) {
      day = d;
      const line = document.createElement("li");
      line.className = "day";
      line.textContent = dayLabel(el.dataset.time);
      el.before(line);
    }
  }
  if (drawn.divider?.el?.isConnected) {
    const line = document.createElement("li");
    line.className = "divider";
    line.textContent = "New messages";
    drawn.divider.el.before(line);
  }
}

function start(chat) {
  const li = document.createElement("li");
  li.className = "start";
  li.textContent = !chat.loaded || chat.loading ? "Loading…" : chat.next === null ? "Start of the conversation" : "";
  return li;
}
