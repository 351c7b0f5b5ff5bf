// What edits, deletes for everyone, reactions and deletes for me do to the
// page's view model (model.js): each changes the one Msg it names, if the
// page has it; one the page has not loaded comes later from history, as it
// is now. Frames come from the socket, and the user's own changes from this
// tab once acked (the server does not echo them to the socket that sent
// them). No DOM here.
import { isMessage } from "./model.js";

/**
 * @typedef {{ref: string, from: string, time: string, message?: any}} Change
 * @typedef {{key: string, count: number, me: boolean}} ReactionCount
 */

/** An edit: the message's new payload, and when. Returns the message, or null if the page does not have it. */
export function edited(chats, /** @type {Change} */ change) {
  const msg = chats.byServerId.get(change.ref);
  if (!msg || msg.deleted) return null;
  msg.message = change.message;
  msg.edited = change.time;
  return msg;
}

/** A delete for everyone: its payload and reactions go; the bubble says it was deleted. */
export function deleted(chats, /** @type {Change} */ change) {
  const msg = chats.byServerId.get(change.ref);
  if (!msg || msg.deleted) return null;
  msg.deleted = change.time;
  msg.message = null;
  msg.edited = undefined;
  msg.reactions = undefined;
  return msg;
}

/**
 * A reaction put on (`on`) or taken back. The user's own, from any device,
 * marks theirs and counts once however many ways it arrives.
 */
export function reacted(chats, /** @type {Change} */ change) {
  const msg = chats.byServerId.get(change.ref);
  if (!msg || msg.deleted) return null;
  const { key, on } = change.message;
  const mine = change.from === chats.me;
  /** @type {ReactionCount[]} */
  const reactions = msg.reactions ?? [];
  const entry = reactions.find((r) => r.key === key);
  if (mine && (entry?.me ?? false) === on) return null;
  if (on && entry) {
    entry.count++;
    entry.me ||= mine;
  } else if (on) {
    reactions.push({ key, count: 1, me: mine });
  } else if (entry) {
    entry.count--;
    if (mine) entry.me = false;
    if (entry.count <= 0) reactions.splice(reactions.indexOf(entry), 1);
  }
  msg.reactions = reactions.length > 0 ? reactions : undefined;
  return msg;
}

/** Deleted for me, on any device: out of its conversation, and the preview falls back to what came before it. */
export function hidden(chats, { conversation, message }) {
  const msg = chats.byServerId.get(message);
  if (!msg) return null;
  const chat = chats.chat(conversation);
  const at = chat.items.indexOf(msg);
  if (at >= 0) chat.items.splice(at, 1);
  chats.byServerId.delete(message);
  if (chat.last === msg) chat.last = chat.items.at(-1) ?? null;
  return msg;
}

/** The messages in view that quote `msg`: their quotes change with it. */
export function quoting(chats, msg) {
  return chats.chat(msg.peer).items.filter((m) => m.replyTo === msg.serverId && m.el);
}

/** What the user may do to a message: reply and react unless it was deleted; edit their own text; delete their own, or any as a group's admin. */
export function allowed(chats, msg) {
  const mine = msg.from === chats.me;
  const live = msg.serverId !== undefined && isMessage(msg) && !msg.deleted;
  const chat = chats.chat(msg.peer);
  const admin = chat.kind === "group" && chat.members?.get(chats.me)?.role === "admin";
  return {
    reply: live && chat.member,
    react: live && chat.member,
    edit: live && mine && msg.content === "TEXT_MESSAGE" && chat.member,
    deleteForEveryone: live && (mine || admin) && chat.member,
    deleteForMe: msg.serverId !== undefined,
  };
}
