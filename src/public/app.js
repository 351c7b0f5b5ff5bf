// The chat page. Plain JS on purpose: the hard parts (outbox, resume,
// reconnect, unread counts, typing and presence timing) live in the client
// library, bundled to ./client.js from src/client by `npm run build:page`;
// the page keeps a view model (model.js) and draws it (view.js).
//
// What it shows comes from the server, not from local storage: the sidebar
// from GET /v1/conversations, each conversation from its history pages, a
// group's members from GET /v1/groups/<id> and then its events. The socket
// resumes after the newest seq the page has seen (kept per user in
// localStorage) or the list shows, so a reload replays only what is new.
import { ApiError, conversationOf, filePayload, LunarLoomClient, MAX_FILE_BYTES, MAX_WATCHED } from "./client.js";
import { Chats, isMessage } from "./model.js";
import * as view from "./view.js";

const $ = (selector) => document.querySelector(selector);
const STORED_USER = "lunarloom.user";
const storedSeqKey = (user) => `lunarloom.seq:${user}`;
/** This long after the last keystroke, the user has stopped typing (the client repeats `true` until told). */
const TYPING_IDLE_MS = 5000;

let me = "";
let current = "";
/** The open group's member list is showing. */
let membersShown = false;
/** The presence list last handed to the client, as a key: it is sent again only when it changes. */
let watched = "";
let typingIdle;
/** @type {Chats} */
let chats;
/** @type {LunarLoomClient} */
let client;

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
    if (msg) view.tick(msg);
  });
  client.on("typing", onTyping);
  client.on("presence", onPresence);
  client.on("unread", onUnread);
  client.on("synced", ({ seq }) => saveSeq(seq));
  client.on("error", (e) => {
    if (e.code !== "RATE_LIMITED") $("#chat-error").textContent = `${e.code}: ${e.reason}`;
  });
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
  if (added.chat.peer === current) view.append(added.msg, me);
  renderList();
}

function onAck({ clientId, serverId }) {
  const acked = chats.acked(clientId, serverId);
  if (!acked) return;
  if (acked.removed) view.remove(acked.removed);
  view.tick(acked.msg);
  // A first message makes a conversation, and with it someone whose presence the server will tell.
  watchPeers();
}

function onReceipt(receipt) {
  saveSeq(client.lastSeq);
  for (const msg of chats.receipt(receipt)) view.tick(msg);
}

function onGroupEvent(frame) {
  saveSeq(client.lastSeq);
  const added = chats.groupEvent(frame);
  if (!added) return;
  if (added.chat.peer === current) {
    view.append(added.msg, me);
    showConversation(added.chat);
  }
  // Someone who had not read yet may have left.
  retick(added.chat);
  renderList();
}

/** A group's ticks after its watermarks, members or loaded messages changed. */
function retick(chat) {
  for (const msg of chats.groupTicks(chat)) view.tick(msg);
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
  if (current) readIfSeen(chats.chat(current));
}

/** A conversation on screen has nothing unread: its newest incoming message is read (receipts are watermarks). */
function readIfSeen(chat) {
  if (chat.peer !== current || !chat.loaded || chat.unread === 0 || document.visibilityState !== "visible") return;
  const newest = chat.items.findLast((m) => isMessage(m) && m.from !== me && m.serverId !== undefined);
  if (newest) client.markRead(newest.serverId);
}

// ---- the open conversation ---------------------------------------------------------------

function renderList() {
  view.renderList(chats.sorted(), { me, current, open, presence: chats.presence });
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
  view.showTyping(chat);
  view.showMembers(chat, { me, visible: membersShown, remove: (user) => changeGroup(client.removeMember(chat.peer, user)) });
}

async function open(peer) {
  if (peer !== current) stopTyping();
  current = peer;
  membersShown = false;
  $("#chat-error").textContent = "";
  const chat = chats.chat(peer);
  showConversation(chat);
  view.showChat(chat, me);
  renderList();
  $("#composer input[name=text]").focus();
  if (chat.kind === "group" && chat.member && chat.members === null) void loadGroup(chat);
  if (!chat.loaded) await load(chat, false);
  readIfSeen(chat);
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
      if (older) view.prepend(chat, added, me);
      else view.showChat(chat, me);
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
  const chat = chats.chat(current);
  if (chat.loaded && chat.next !== null && !chat.loading && view.atTop()) void load(chat, true);
});

document.addEventListener("visibilitychange", () => {
  if (current) readIfSeen(chats.chat(current));
});

// ---- sending ------------------------------------------------------------------------------

function track(outgoing) {
  const msg = chats.sent(outgoing);
  if (msg.peer === current) view.append(msg, me);
  renderList();
  outgoing.acked.catch((err) => {
    const failed = chats.failed(outgoing.id, err.message);
    if (failed) view.tick(failed);
  });
}

$("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#composer input[name=text]");
  const text = input.value.trim();
  if (!text || !current) return;
  input.value = "";
  // The send itself tells the others the typing is over.
  clearTimeout(typingIdle);
  track(client.send(current, text));
});

$("#composer input[name=text]").addEventListener("input", (event) => {
  if (!current) return;
  clearTimeout(typingIdle);
  if (event.target.value.trim() === "") {
    client.typing(current, false);
    return;
  }
  client.typing(current, true);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE_MS);
});

function stopTyping() {
  clearTimeout(typingIdle);
  if (current) client.typing(current, false);
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
  if (current) changeGroup(client.leaveGroup(current));
});

$("#composer input[name=file]").addEventListener("change", async (event) => {
  const input = event.target;
  const file = input.files?.[0];
  input.value = "";
  if (!file || !current) return;
  if (file.size > MAX_FILE_BYTES) {
    $("#chat-error").textContent =
      `${file.name} is ${view.formatSize(file.size)}; files up to ${view.formatSize(MAX_FILE_BYTES)} fit in a message.`;
    return;
  }
  track(client.sendFile(current, await filePayload(file, file.name)));
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
