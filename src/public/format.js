// Words and text for the page: message text with its links, times and days,
// presence, typing, group events. Links are the only markup a message gets:
// everything else it contains is shown as text.
import { isFilePayload } from "./client.js";
import { isMessage } from "./model.js";

/** An http(s) address in running text; trailing punctuation is the sentence's, not the link's. */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'")\]}]+$/;

/** A payload as text: strings as they are, anything else (a notice's object, say) as JSON. */
export function plain(message) {
  return typeof message === "string" ? message : JSON.stringify(message);
}

/** Text as DOM nodes: text nodes, and an <a> for each http(s) link (opening in a new tab, telling it nothing). */
export function linkified(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    const href = match[0].replace(TRAILING, "");
    let url;
    try {
      url = new URL(href);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    const a = document.createElement("a");
    a.href = url.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = href;
    nodes.push(a);
    at = match.index + href.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The local day of a time, as a key: two messages of one day have the same. */
export function dayOf(iso) {
  return new Date(iso).toDateString();
}

/** "Today", "Yesterday", "Monday 30 November", or with the year when it is not this one. */
export function dayLabel(iso) {
  const at = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (at.toDateString() === today.toDateString()) return "Today";
  if (at.toDateString() === yesterday.toDateString()) return "Yesterday";
  const sameYear = at.getFullYear() === today.getFullYear();
  return at.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long", year: sameYear ? undefined : "numeric" });
}

/** "online", "last seen 14:05" (today), "last seen 27 Nov, 14:05", or "offline" when never seen. */
export function lastSeen({ status, lastSeen }) {
  if (status === "online") return "online";
  if (lastSeen === null) return "offline";
  const at = new Date(lastSeen);
  const today = at.toDateString() === new Date().toDateString();
  return `last seen ${today ? clock(lastSeen) : `${at.toLocaleDateString([], { day: "numeric", month: "short" })}, ${clock(lastSeen)}`}`;
}

/** "bob is typing…", "bob and carol are typing…", "4 people are typing…". */
export function typists(chat) {
  const names = [...chat.typing];
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/** A conversation's title: a group's name (its id until the name is known), else the peer. */
export function title(chat) {
  return chat.kind === "group" ? (chat.name ?? "Group") : chat.peer;
}

/** A message in one line, for the sidebar's preview. */
export function summary(msg, me) {
  if (msg.content === "GROUP_EVENT") return describe(msg, me);
  const file = msg.content === "FILE_MESSAGE" && (isFilePayload(msg.message) || typeof msg.message?.file === "string");
  const text = msg.deleted ? "This message was deleted" : file ? `File: ${msg.message.name}` : plain(msg.message).replace(/\s+/g, " ");
  if (msg.from === me) return `You: ${text}`;
  return isMessage(msg) && msg.peer.startsWith("group:") ? `${msg.from}: ${text}` : text;
}

/** A group event in words, as its line in the conversation and in the sidebar. */
export function describe(msg, me) {
  const { event, user, role, name, members } = msg.message;
  const who = (u) => (u === me ? "you" : u);
  const actor = msg.from === me ? "You" : msg.from;
  switch (event) {
    case "created":
      return `${actor} created the group “${name}”`;
    case "member_added":
      return `${actor} added ${
        members
          ? count(
              members.map((m) => m.user),
              who,
            )
          : who(user)
      }`;
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

/** A batch's members in words: a few by name, the rest counted. */
function count(users, who) {
  const named = users.slice(0, 3).map(who).join(", ");
  return users.length > 3 ? `${named} and ${users.length - 3} others` : named;
}
