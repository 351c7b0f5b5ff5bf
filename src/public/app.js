// The chat page. Plain JS on purpose: the hard parts (outbox, resume,
// reconnect) live in the client library, bundled to ./client.js from
// src/client by `npm run build:page`, so the page only keeps a view model.
import { filePayload, isFilePayload, LunarLoomClient, MAX_FILE_BYTES } from "./client.js";

const $ = (selector) => document.querySelector(selector);
const RANK = { failed: -1, pending: 0, received: 1, delivered: 2, read: 3 };
const TICK = { failed: "failed", pending: "◷", received: "✓", delivered: "✓✓", read: "✓✓" };
const STORED_USER = "lunarloom.user";

/**
 * @typedef {object} Msg
 * @property {string} [serverId]
 * @property {string} [clientId] set while one of our sends waits for its ack
 * @property {string} from
 * @property {string} peer
 * @property {string} content
 * @property {unknown} message
 * @property {string} time
 * @property {"failed"|"pending"|"received"|"delivered"|"read"} [status] ticks, for our own messages
 * @property {string} [error] why a send failed
 * @property {boolean} [delivered] for messages to us: our receipt is sent (or another device sent it)
 * @property {boolean} [read]
 * @property {HTMLElement} [el]
 */

/** @type {Map<string, { peer: string, items: Msg[], touched: number }>} */
const chats = new Map();
/** @type {Map<string, Msg>} */
const byServerId = new Map();
/** @type {Map<string, Msg>} */
const byClientId = new Map();
let me = "";
let current = "";
let synced = false;
let touches = 0;
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
  // since=0: the page keeps nothing locally, so it rebuilds every conversation
  // (with its ticks) from the user's log; reconnects then resume from the last seq.
  client = new LunarLoomClient({ url: location.origin, token: () => devToken(user), since: 0 });
  client.on("state", showState);
  client.on("message", onMessage);
  client.on("ack", onAck);
  client.on("receipt", onReceipt);
  client.on("synced", onSynced);
  client.on("error", (e) => {
    if (e.code !== "RATE_LIMITED") $("#chat-error").textContent = `${e.code}: ${e.reason}`;
  });
  client.connect();
}

function showState(state) {
  const el = $("#state");
  el.dataset.state = state.status;
  if (state.status === "open") synced = false;
  el.textContent = {
    idle: "not connected",
    connecting: "connecting…",
    open: "online",
    offline: `offline, retrying in ${Math.ceil((state.retryInMs ?? 0) / 1000)} s`,
    closed: "signed out",
  }[state.status];
}

// ---- frames from the client ------------------------------------------------------------

function onMessage(frame) {
  // Our own send, already shown since its ack; a resume replays our copy of it.
  if (byServerId.has(frame.id)) return;
  const mine = frame.from === me;
  const msg = {
    serverId: frame.id,
    from: frame.from,
    peer: mine ? frame.to : frame.from,
    content: frame.content,
    message: frame.message,
    time: frame.time,
    status: mine ? "received" : undefined,
  };
  byServerId.set(frame.id, msg);
  add(msg);
  // Receipts wait for the end of the backlog: a replay also holds our own
  // earlier receipts, and those must not be sent again.
  if (!mine && synced) acknowledge(msg);
}

function onAck({ clientId, serverId }) {
  const msg = byClientId.get(clientId);
  if (!msg) return;
  byClientId.delete(clientId);
  const copy = byServerId.get(serverId);
  if (copy) {
    // A resume replayed our copy before the resend's ack: keep one bubble.
    remove(msg);
    raise(copy, "received");
    return;
  }
  msg.serverId = serverId;
  byServerId.set(serverId, msg);
  raise(msg, "received");
}

function onReceipt(receipt) {
  const msg = byServerId.get(receipt.message);
  if (!msg) return;
  const read = receipt.content === "MESSAGE_READ";
  if (receipt.from === me) {
    // Our own receipt, sent by another device (or replayed): this message is dealt with.
    msg.delivered = true;
    if (read) msg.read = true;
    renderChats();
  } else {
    raise(msg, read ? "read" : "delivered");
  }
}

function onSynced() {
  synced = true;
  for (const chat of chats.values()) for (const msg of chat.items) if (msg.from !== me) acknowledge(msg);
}

/** Tells the sender a message reached us, and that it was read if its conversation is on screen. */
function acknowledge(msg) {
  if (!msg.delivered) {
    msg.delivered = true;
    client.markDelivered(msg.serverId);
  }
  if (!msg.read && msg.peer === current && document.visibilityState === "visible") {
    msg.read = true;
    client.markRead(msg.serverId);
    renderChats();
  }
}

// ---- the view model -----------------------------------------------------------------

function chat(peer) {
  const c = chats.get(peer) ?? { peer, items: [], touched: 0 };
  chats.set(peer, c);
  return c;
}

function add(msg) {
  const c = chat(msg.peer);
  c.items.push(msg);
  c.touched = ++touches;
  if (msg.peer === current) append(msg);
  renderChats();
}

function remove(msg) {
  const c = chat(msg.peer);
  c.items = c.items.filter((m) => m !== msg);
  msg.el?.remove();
}

function raise(msg, status) {
  if (RANK[status] <= RANK[msg.status]) return;
  msg.status = status;
  renderMsg(msg);
}

// ---- rendering ----------------------------------------------------------------------------

function renderChats() {
  const list = $("#conversations");
  list.replaceChildren(
    ...[...chats.values()]
      .sort((a, b) => b.touched - a.touched)
      .map((c) => {
        const li = document.createElement("li");
        li.dataset.peer = c.peer;
        li.classList.toggle("current", c.peer === current);
        const name = document.createElement("strong");
        name.textContent = c.peer;
        li.append(name);
        const unread = c.items.filter((m) => m.from !== me && !m.read).length;
        if (unread > 0) {
          const badge = document.createElement("span");
          badge.className = "unread";
          badge.textContent = String(unread);
          li.append(badge);
        }
        const preview = document.createElement("span");
        preview.className = "preview";
        const last = c.items.at(-1);
        preview.textContent = last ? summary(last) : "no messages yet";
        li.append(preview);
        li.addEventListener("click", () => open(c.peer));
        return li;
      }),
  );
}

function open(peer) {
  current = peer;
  $("#peer").textContent = peer;
  $("#composer").hidden = false;
  $("#chat-error").textContent = "";
  $("#messages").replaceChildren();
  for (const msg of chat(peer).items) append(msg);
  if (synced) for (const msg of chat(peer).items) if (msg.from !== me) acknowledge(msg);
  renderChats();
  $("#composer input[name=text]").focus();
}

function append(msg) {
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
    body.textContent = typeof msg.message === "string" ? msg.message : JSON.stringify(msg.message);
  }
  const meta = document.createElement("span");
  meta.className = "meta";
  const time = document.createElement("time");
  time.dateTime = msg.time;
  time.textContent = new Date(msg.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(time);
  li.append(body, meta);
  msg.el = li;
  renderMsg(msg);
  const list = $("#messages");
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function renderMsg(msg) {
  if (!msg.el || msg.from !== me) return;
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

function summary(msg) {
  const text = isFilePayload(msg.message) ? `File: ${msg.message.name}` : String(msg.message);
  return msg.from === me ? `You: ${text}` : text;
}

function formatSize(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`;
}

// ---- sending ------------------------------------------------------------------------------

function track(outgoing) {
  const msg = {
    clientId: outgoing.id,
    from: me,
    peer: outgoing.to,
    content: outgoing.content,
    message: outgoing.message,
    time: new Date().toISOString(),
    status: "pending",
  };
  byClientId.set(outgoing.id, msg);
  add(msg);
  outgoing.acked.catch((err) => {
    byClientId.delete(outgoing.id);
    msg.status = "failed";
    msg.error = err.message;
    renderMsg(msg);
  });
}

$("#composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#composer input[name=text]");
  const text = input.value.trim();
  if (!text || !current) return;
  input.value = "";
  track(client.send(current, text));
});

$("#composer input[name=file]").addEventListener("change", async (event) => {
  const input = event.target;
  const file = input.files?.[0];
  input.value = "";
  if (!file || !current) return;
  if (file.size > MAX_FILE_BYTES) {
    $("#chat-error").textContent = `${file.name} is ${formatSize(file.size)}; files up to ${formatSize(MAX_FILE_BYTES)} fit in a message.`;
    return;
  }
  track(client.sendFile(current, await filePayload(file, file.name)));
});

$("#new-chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = event.target.elements.peer;
  const peer = input.value.trim();
  input.value = "";
  if (peer) open(peer);
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

document.addEventListener("visibilitychange", () => {
  if (synced && current) for (const msg of chat(current).items) if (msg.from !== me) acknowledge(msg);
});

const remembered = localStorage.getItem(STORED_USER);
if (remembered) void signIn(remembered);
