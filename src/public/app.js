// The chat page. Plain JS on purpose: the hard parts (outbox, resume,
// reconnect, unread counts, typing and presence timing) live in the client
// library, bundled to ./client.js from src/client by `npm run build:page`;
// the page keeps a view model (model.js) and draws it (view.js for the open
// conversation, bubble.js, sidebar.js, members.js), with the message box in
// composer.js, read tracking in reading.js, and replies, edits, deletes and
// reactions in actions.js (changes.js for the model).
//
// What it shows comes from the server, not from local storage: the sidebar
// from GET /v1/conversations, each conversation from its history pages, a
// group's members from GET /v1/groups/<id> and then its events. The socket
// resumes after the newest seq the page has seen (kept per user in
// localStorage) or the list shows, so a reload replays only what is new.
import * as actions from "./actions.js";
import { Attachments } from "./attach.js";
import { tick } from "./bubble.js";
import { ApiError, conversationOf, LunarLoomClient, MAX_WATCHED } from "./client.js";
import { Composer } from "./composer.js";
import { title } from "./format.js";
import { showMembers } from "./members.js";
import { Chats } from "./model.js";
import { Reading } from "./reading.js";
import { Safety } from "./safety.js";
import { renderList as drawList } from "./sidebar.js";
import * as view from "./view.js";

const $ = (selector) => document.querySelector(selector);
const STORED_USER = "lunarloom.user";
const storedSeqKey = (user) => `lunarloom.seq:${user}`;

let me = "";
let current = "";
/** The first message that was unread when the open conversation was opened: the "new messages" line sits above it. */
let divider = null;
/** The open group's member list is showing. */
let membersShown = false;
/** The presence list last handed to the client, as a key: it is sent again only when it changes. */
let watched = "";
/** @type {Chats} */
let chats;
/** @type {LunarLoomClient} */
let client;
/** @type {Composer} */
let composer;
/** @type {Safety} */
let safety;
const reading = new Reading($("#messages"), markRead);
view.onIncomingDrawn((el) => reading.watch(el));

// ---- signing in -------------------------------------------------------------------

async function devToken(user) {
  const res = await fetch(`/dev/token?user=${encodeURIComponent(user)}`);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.reason ?? `token endpoint answered ${res.status}`);
  return body.token;
}

async function signIn(user) {
  try {
    // One token up front, so a server without dev tokens says so here rather than in endless retries.
    await devToken(user);
  } catch (err) {
    $("#signin-error").textContent = `Could not sign in: ${err.message}`;
    return;
  }
  me = user;
  localStorage.setItem(STORED_USER, user);
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  $("#me").textContent = `as ${user}`;
  chats = new Chats(user);
  client = new LunarLoomClient({ url: location.origin, token: () => devToken(user) });
  client.on("state", showState);
  client.on("message", onMessage);
  client.on("ack", onAck);
  client.on("receipt", onReceipt);
  client.on("groupEvent", onGroupEvent);
  client.on("refused", ({ serverId, reason }) => {
    const msg = chats.refused(serverId, reason);
    if (msg) tick(msg);
  });
  client.on("typing", onTyping);
  client.on("presence", onPresence);
  client.on("unread", onUnread);
  client.on("synced", ({ seq }) => saveSeq(seq));
  client.on("error", (e) => {
    if (e.code !== "RATE_LIMITED") $("#chat-error").textContent = `${e.code}: ${e.reason}`;
  });
  composer = new Composer({ client, chats: () => chats, current: () => current, sent: track });
  actions.listen({
    client,
    chats: () => chats,
    listChanged: renderList,
    error: showError,
    saw: () => saveSeq(client.lastSeq),
  });
  safety = new Safety({ client, me: user, changed: redraw, error: showError });
  new Attachments({ client, current: () => current, sent: track, error: showError });
  view.showScreen("list");
  let since = Number(localStorage.getItem(storedSeqKey(user)) ?? 0);
  try {
    const list = await client.conversations();
    for (const [i, c] of list.conversations.entries()) {
      chats.listed(c, i);
      // A device that has the list has these messages; the ones nobody has opened may never have reached a device.
      if (c.unread > 0 && c.last?.type === "USER_MSG" && c.last.from !== me) client.markDelivered(c.last.id);
    }
    // What the list (and history, on opening) shows needs no replay.
    since = Math.max(since, list.conversations[0]?.lastSeq ?? 0);
    for (const [i, c] of (await safety.load(list.conversations)).entries()) chats.listed(c, list.conversations.length + i);
  } catch (err) {
    // Without the list the page still works from the socket: resume where this device was (with nothing stored, from the start).
    $("#chat-error").textContent = `Could not load conversations: ${err.message}`;
  }
  renderList();
  client.connect({ since });
}

function saveSeq(seq) {
  // Tabs of one user share the key: any of their positions is a safe place to resume.
  const key = storedSeqKey(me);
  if (seq > Number(localStorage.getItem(key) ?? 0)) localStorage.setItem(key, String(seq));
}

/** A page-wide problem, or "" to clear it. */
function showError(text) {
  $("#chat-error").textContent = text;
}

function redraw() {
  renderList();
  if (current) showConversation(chats.chat(current));
}

function showState(state) {
  const el = $("#state");
  el.dataset.state = state.status;
  el.textContent = {
    idle: "not connected",
    connecting: "connecting…",
    open: "online",
    offline: `offline, retrying in ${Math.ceil((state.retryInMs ?? 0) / 1000)} s`,
    closed: "signed out",
  }[state.status];
}

// ---- what the client reports -------------------------------------------------------------

function onMessage(frame) {
  saveSeq(client.lastSeq);
  const added = chats.incoming(frame, conversationOf(me, frame));
  if (!added) return;
  if (frame.from !== me) client.markDelivered(frame.id);
  if (added.chat.peer === current) view.place(added.msg, me);
  safety.incoming(added.chat.peer);
  renderList();
}

function onAck({ clientId, serverId }) {
  const acked = chats.acked(clientId, serverId);
  if (!acked) return;
  if (acked.removed) view.remove(acked.removed);
  tick(acked.msg);
  // A first message makes a conversation, and with it someone whose presence the server will tell.
  watchPeers();
}

function onReceipt(receipt) {
  saveSeq(client.lastSeq);
  // The user read on another device: a later "new messages" line starts after it.
  if (receipt.from === me && receipt.content === "MESSAGE_READ") {
    const msg = chats.byServerId.get(receipt.message);
    if (msg) chats.read(msg);
  }
  for (const msg of chats.receipt(receipt)) tick(msg);
}

function onGroupEvent(frame) {
  saveSeq(client.lastSeq);
  const added = chats.groupEvent(frame);
  if (!added) return;
  if (added.chat.peer === current) {
    view.place(added.msg, me);
    showConversation(added.chat);
  }
  // Added back after a removal: the members and their watermarks are fetched again, as on a first open.
  const { event, user, members } = frame.message;
  if (event === "member_added" && (user === me || members?.some((m) => m.user === me))) void loadGroup(added.chat);
  // Someone who had not read yet may have left.
  retick(added.chat);
  renderList();
}

/** A group's ticks after its watermarks, members or loaded messages changed. */
function retick(chat) {
  for (const msg of chats.groupTicks(chat)) tick(msg);
}

function onTyping(change) {
  if (!chats.typing(change)) return;
  renderList();
  if (change.conversation === current) view.showTyping(chats.chat(current));
}

function onPresence({ user, status, lastSeen }) {
  chats.presence.set(user, { status, lastSeen });
  renderList();
  if (user === current) view.showHeader(chats.chat(current), chats.presence);
}

function onUnread({ total, conversations }) {
  document.title = total > 0 ? `(${total}) LunarLoom` : "LunarLoom";
  for (const { id, unread } of conversations) chats.chat(id).unread = unread;
  renderList();
}

/** The newest incoming message the user can see in the open conversation (reading.js): read, and so is everything before it. */
function markRead(serverId) {
  const msg = chats.byServerId.get(serverId);
  if (!msg || msg.peer !== current) return;
  const chat = chats.chat(current);
  // Receipts are watermarks: a message at or before the last one read says nothing new.
  if (msg.seq === undefined || msg.seq <= chat.readUpTo) return;
  chats.read(msg);
  client.markRead(serverId);
}

// ---- the open conversation ---------------------------------------------------------------

function renderList() {
  const sorted = chats.sorted();
  drawList(safety.arrange(sorted), { me, current, open, presence: chats.presence });
  drawList(safety.archivedOf(sorted), { me, current, open, presence: chats.presence, into: "#archived-list" });
  safety.decorate();
  watchPeers();
}

/** Presence for the direct peers in the list (the server answers only for people one has a conversation with). */
function watchPeers() {
  const peers = chats.peers(MAX_WATCHED);
  const key = JSON.stringify(peers.toSorted());
  if (key === watched) return;
  watched = key;
  client.watchPresence(peers);
}

/** Everything around the open conversation's bubbles. */
function showConversation(chat) {
  view.showHeader(chat, chats.presence);
  view.showComposer(chat);
  safety.showHeader(chat);
  view.showTyping(chat);
  const remove = (user) => {
    if (confirm(`Remove ${user} from “${title(chat)}”? They keep what they have and get nothing more.`)) {
      changeGroup(client.removeMember(chat.peer, user));
    }
  };
  showMembers(chat, { me, visible: membersShown, remove });
  view.showScreen(membersShown && chat.kind === "group" && chat.member ? "members" : "chat");
}

async function open(peer) {
  if (peer !== current) composer.leave(current);
  current = peer;
  membersShown = false;
  $("#chat-error").textContent = "";
  const chat = chats.chat(peer);
  showConversation(chat);
  composer.enter(peer);
  divider = chats.firstUnread(chat);
  draw(chat);
  renderList();
  composer.focus();
  if (chat.kind === "group" && chat.member && chat.members === null) void loadGroup(chat);
  if (!chat.loaded) await load(chat, false);
}

/** Draws the open conversation afresh, at the first message that was unread when it was opened, if that is loaded. */
function draw(chat) {
  reading.reset();
  // Found once per opening: what the user reads meanwhile does not move the line.
  divider ??= chats.firstUnread(chat);
  view.showChat(chat, me, divider);
}

/** Phones: back to the list; the conversation is no longer on screen, so nothing in it is read. */
function close() {
  composer.leave(current);
  current = "";
  membersShown = false;
  reading.reset();
  view.showScreen("list");
  renderList();
}

/** A group's members and roles; its events keep them from here on. */
async function loadGroup(chat) {
  try {
    chats.group(await client.getGroup(chat.peer));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) chats.notMember(chat.peer);
    else $("#chat-error").textContent = `Could not load the group: ${err.message}`;
  }
  if (chat.peer === current) showConversation(chat);
  retick(chat);
  renderList();
}

/** A change to a group (add, remove, leave): the answer is the group as it is now. */
function changeGroup(change) {
  $("#chat-error").textContent = "";
  change.then(
    (group) => {
      const chat = chats.group(group);
      if (chat.peer === current) showConversation(chat);
      retick(chat);
      renderList();
    },
    (err) => {
      $("#chat-error").textContent = err.message;
    },
  );
}

/** The newest history page, or the one before what is loaded. One at a time per conversation. */
function load(chat, older) {
  chat.loading ??= (async () => {
    try {
      const page = await client.history(chat.peer, older ? { before: chat.next } : {});
      const added = chats.history(chat.peer, page, older);
      chat.loading = null;
      retick(chat);
      if (chat.peer !== current) return;
      if (!older) draw(chat);
      else if (added.length > 0) view.drawOlder(me);
      view.showStart(chat);
      // Nothing to scroll yet, so no scroll to ask for more: fill the view.
      if (chat.next !== null && view.short()) await load(chat, true);
    } catch (err) {
      chat.loading = null;
      if (chat.peer !== current) return;
      view.showStart(chat);
      $("#chat-error").textContent = `Could not load messages: ${err.message}`;
    }
  })();
  if (chat.peer === current) view.showStart(chat);
  return chat.loading;
}

$("#messages").addEventListener("scroll", () => {
  if (!current) return;
  view.scrolled();
  if (!view.atTop()) return;
  // What is loaded is drawn first; then the page before it.
  if (view.drawOlder(me)) return;
  const chat = chats.chat(current);
  if (chat.loaded && chat.next !== null && !chat.loading) void load(chat, true);
});

$("#jump").addEventListener("click", () => view.jumpToLatest());
$("#back").addEventListener("click", close);
$("#members-back").addEventListener("click", () => {
  membersShown = false;
  showConversation(chats.chat(current));
});

// ---- sending ------------------------------------------------------------------------------

function track(outgoing) {
  const msg = chats.sent(outgoing);
  if (msg.peer === current) view.place(msg, me);
  safety.incoming(msg.peer);
  renderList();
  outgoing.acked.catch((err) => {
    const failed = chats.failed(outgoing.id, err.message);
    if (failed) tick(failed);
  });
}

// ---- groups -------------------------------------------------------------------------------

$("#new-group form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const name = form.elements.name.value.trim();
  const members = form.elements.members.value.split(/[\s,]+/).filter(Boolean);
  if (!name) return;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const group = await client.createGroup({ name, members });
    form.reset();
    $("#new-group").open = false;
    chats.group(group);
    void open(group.id);
  } catch (err) {
    $("#chat-error").textContent = `Could not create the group: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});

$("#members-toggle").addEventListener("click", () => {
  membersShown = !membersShown;
  showConversation(chats.chat(current));
});

$("#add-member").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.user;
  const user = input.value.trim();
  input.value = "";
  if (user && current) changeGroup(client.addMember(current, user));
});

$("#leave").addEventListener("click", () => {
  if (!current) return;
  const chat = chats.chat(current);
  if (confirm(`Leave “${title(chat)}”? You keep what you have and get nothing more.`)) changeGroup(client.leaveGroup(current));
});

$("#new-chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.peer;
  const peer = input.value.trim();
  input.value = "";
  if (peer) void open(peer);
});

$("#signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const user = event.target.elements.user.value.trim();
  if (user) void signIn(user);
});

$("#signout").addEventListener("click", () => {
  client?.close();
  localStorage.removeItem(STORED_USER);
  location.reload();
});

const remembered = localStorage.getItem(STORED_USER);
if (remembered) void signIn(remembered);
