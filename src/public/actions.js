// What the user does with a message after it was sent (PROTOCOL.md, Replies,
// edits, deletes and reactions), and how the bubbles show it. A ⋯ button on
// each bubble opens a menu: six common emoji, Reply, Edit (your own text),
// Delete for everyone (yours; any, as a group's admin) and Delete for me.
// A reply shows the message it answers above its bubble (a click scrolls to
// it); an edited bubble says "edited"; a deleted one "This message was
// deleted"; reactions are counts under the bubble, yours highlighted (a
// click takes yours back, or adds it). Replying and editing put the message
// box in a mode, shown above it (Escape or ✕ leaves it). The model changes
// are in changes.js; history brings each message as it is now.
import { content } from "./bubble.js";
import * as changes from "./changes.js";
import { plain } from "./format.js";
import { isMessage } from "./model.js";
import { drawOlder } from "./view.js";

export const EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

const $ = (selector) => document.querySelector(selector);
const box = () => $("#composer textarea[name=text]");

/**
 * @type {{
 *   client: import("./client.js").LunarLoomClient,
 *   chats: () => import("./model.js").Chats,
 *   listChanged: () => void,
 *   error: (text: string) => void,
 *   saw: () => void,
 * }}
 */
let deps;
/** The message box replies to or edits this message; null: it sends a new one. */
let mode = null;
/** The open menu's element, and the message it acts on. */
let menu = null;

/** Wires the client's change events to the page. */
export function listen(d) {
  deps = d;
  const apply = (change) => (frame) => {
    deps.saw();
    show(change(deps.chats(), frame));
  };
  d.client.on("edit", apply(changes.edited));
  d.client.on("delete", apply(changes.deleted));
  d.client.on("reaction", apply(changes.reacted));
  d.client.on("settings", ({ message }) => {
    deps.saw();
    if ("hidden" in message) gone(changes.hidden(deps.chats(), message.hidden));
  });
}

/** The message box's text, as a reply or an edit when in that mode: returns the new message to track, or null for an edit. */
export function compose(current, text) {
  const now = mode?.msg.peer === current ? mode : null;
  cancel();
  if (now?.kind === "edit") {
    if (text !== now.msg.message) mine(deps.client.edit(current, now.msg.serverId, text), changes.edited, now.msg, text);
    return null;
  }
  return deps.client.send(current, text, now ? { replyTo: now.msg.serverId } : {});
}

/** Leaves the reply or edit mode (switching conversations does too). */
export function cancel() {
  if (mode?.kind === "edit") box().value = "";
  mode = null;
  banner().hidden = true;
}

/** What a bubble shows beyond its text: the quote it replies to, deleted, edited, reactions, and the ⋯ button. */
export function decorate(msg) {
  const li = msg.el;
  if (!li || !isMessage(msg)) return;
  const chats = deps.chats();
  li.classList.toggle("deleted", Boolean(msg.deleted));
  if (msg.deleted) li.querySelector(".body").replaceChildren("This message was deleted");
  for (const old of li.querySelectorAll(":scope > .quote, :scope > .reactions, .meta .edited")) old.remove();
  if (msg.replyTo) li.querySelector(".body").before(quote(chats, msg.replyTo));
  if (msg.edited && !msg.deleted) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = "edited";
    edited.title = `edited ${new Date(msg.edited).toLocaleString()}`;
    li.querySelector(".meta").prepend(edited);
  }
  if (msg.reactions?.length) li.querySelector(".meta").after(reactions(msg));
  if (!li.querySelector(":scope > .more")) {
    const more = document.createElement("button");
    more.type = "button";
    more.className = "more";
    more.textContent = "⋯";
    more.title = "Reply, react, edit or delete";
    more.setAttribute("aria-label", "Message actions");
    more.addEventListener("click", (event) => {
      event.stopPropagation();
      if (menu?.msg === msg) closeMenu();
      else openMenu(msg);
    });
    li.append(more);
  }
}

/** A message changed: its bubble, the bubbles quoting it, the mode, the sidebar. */
function show(msg) {
  if (!msg) return;
  redraw(msg);
  for (const reply of changes.quoting(deps.chats(), msg)) redraw(reply);
  if (msg.deleted && mode?.msg === msg) cancel();
  if (msg.deleted && menu?.msg === msg) closeMenu();
  deps.listChanged();
}

/** Deleted for me: off screen, and out of every quote and mode. */
function gone(msg) {
  if (!msg) return;
  msg.el?.remove();
  msg.el = undefined;
  for (const reply of changes.quoting(deps.chats(), msg)) redraw(reply);
  if (mode?.msg === msg) cancel();
  if (menu?.msg === msg) closeMenu();
  deps.listChanged();
}

function redraw(msg) {
  if (!msg.el) return;
  if (!msg.deleted) msg.el.querySelector(".body").replaceChildren(...content(msg));
  decorate(msg);
}

/** The user's own change, applied once the server has it (the socket that sent it does not get it back). */
function mine(outgoing, change, msg, message) {
  outgoing.acked.then(
    ({ time }) => show(change(deps.chats(), { ref: msg.serverId, from: deps.chats().me, time, message })),
    (err) => deps.error(`Could not change the message: ${err.message}`),
  );
}

function quote(chats, serverId) {
  const target = chats.byServerId.get(serverId);
  const el = document.createElement("button");
  el.type = "button";
  el.className = "quote";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = target ? (target.from === chats.me ? "You" : target.from) : "";
  el.append(who, target ? snippet(target) : "an earlier message");
  el.title = "Show the message this replies to";
  el.addEventListener("click", () => scrollTo(serverId));
  return el;
}

/** The quoted message, drawing older items until it is on screen if it is loaded. */
function scrollTo(serverId) {
  const target = deps.chats().byServerId.get(serverId);
  if (!target) return;
  // Loaded but above what is drawn: draw older items until it is there.
  while (!target.el?.isConnected && drawOlder(deps.chats().me));
  if (!target.el?.isConnected) return;
  target.el.scrollIntoView({ block: "center" });
  target.el.classList.remove("flash");
  void target.el.offsetWidth;
  target.el.classList.add("flash");
}

function snippet(msg) {
  if (msg.deleted) return "This message was deleted";
  if (msg.content === "FILE_MESSAGE") return `File: ${msg.message?.name ?? ""}`;
  const text = plain(msg.message).replace(/\s+/g, " ");
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function reactions(msg) {
  const row = document.createElement("div");
  row.className = "reactions";
  const may = changes.allowed(deps.chats(), msg).react;
  for (const { key, count, me } of msg.reactions) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = me ? "reaction me" : "reaction";
    chip.dataset.key = key;
    chip.textContent = `${key} ${count}`;
    chip.disabled = !may;
    chip.title = me ? "Take yours back" : `React with ${key}`;
    chip.addEventListener("click", () => react(msg, key));
    row.append(chip);
  }
  return row;
}

/** Puts the user's reaction on, or takes it back if it is there. */
function react(msg, key) {
  const on = !msg.reactions?.some((r) => r.key === key && r.me);
  mine(deps.client.react(msg.peer, msg.serverId, key, on), changes.reacted, msg, { key, on });
}

function openMenu(msg) {
  closeMenu();
  const may = changes.allowed(deps.chats(), msg);
  const el = document.createElement("div");
  el.className = "actions";
  el.setAttribute("role", "menu");
  if (may.react) {
    const picker = document.createElement("div");
    picker.className = "picker";
    for (const key of EMOJI) picker.append(item(key, `React with ${key}`, () => react(msg, key)));
    el.append(picker);
  }
  if (may.reply) el.append(item("Reply", "", () => enter("reply", msg)));
  if (may.edit) el.append(item("Edit", "", () => enter("edit", msg)));
  if (may.deleteForEveryone) {
    el.append(
      item("Delete for everyone", "", () => {
        if (confirm("Delete this message for everyone? Its text is erased from the server.")) {
          mine(deps.client.deleteForEveryone(msg.peer, msg.serverId), changes.deleted, msg);
        }
      }),
    );
  }
  if (may.deleteForMe) {
    el.append(
      item("Delete for me", "", () => {
        deps.client.deleteForMe(msg.peer, msg.serverId).catch((err) => deps.error(`Could not delete the message: ${err.message}`));
      }),
    );
  }
  msg.el.append(el);
  menu = { el, msg };
}

function item(label, title, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("role", "menuitem");
  button.textContent = label;
  if (title) button.title = title;
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    closeMenu();
    action();
  });
  return button;
}

function closeMenu() {
  menu?.el.remove();
  menu = null;
}

/** Reply or edit mode: a line above the message box says which message, with ✕ to leave it. */
function enter(kind, msg) {
  mode = { kind, msg };
  const line = banner();
  line.replaceChildren();
  const text = document.createElement("span");
  text.textContent = `${kind === "edit" ? "Editing" : `Replying to ${msg.from === deps.chats().me ? "yourself" : msg.from}`}: ${snippet(msg)}`;
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "✕";
  close.setAttribute("aria-label", kind === "edit" ? "Cancel the edit" : "Cancel the reply");
  close.addEventListener("click", cancel);
  line.append(text, close);
  line.hidden = false;
  if (kind === "edit") box().value = plain(msg.message);
  box().focus();
}

/** The line above the message box, made once. */
function banner() {
  let line = $("#composing");
  if (!line) {
    line = document.createElement("div");
    line.id = "composing";
    line.hidden = true;
    $("#composer").before(line);
    box().addEventListener("keydown", (event) => {
      if (event.key === "Escape" && mode) cancel();
    });
  }
  return line;
}

document.addEventListener("click", (event) => {
  if (menu && !menu.el.contains(event.target)) closeMenu();
});
