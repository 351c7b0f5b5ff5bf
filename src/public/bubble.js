// One item of a conversation as DOM: a message bubble (text with its links,
// a file, the sender's name in a group, time and ticks, and what actions.js
// adds: a quoted reply, edited, deleted, reactions), or a line about
// the group. Each item's element is kept on it (`msg.el`) while drawn.

import { decorate } from "./actions.js";
import { fileRefNodes, isFileRef } from "./attach.js";
import { isFilePayload } from "./client.js";
import { clock, describe, formatSize, linkified, plain } from "./format.js";
import { reportButton } from "./safety.js";

const TICK = { failed: "failed", pending: "◷", received: "✓", delivered: "✓✓", read: "✓✓" };

/** @param {import("./model.js").Msg} msg */
export function bubble(msg, me) {
  const li = document.createElement("li");
  li.dataset.time = msg.time;
  msg.el = li;
  if (msg.content === "GROUP_EVENT") {
    li.className = "event";
    li.textContent = describe(msg, me);
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
  body.append(...content(msg));
  const meta = document.createElement("span");
  meta.className = "meta";
  const time = document.createElement("time");
  time.dateTime = msg.time;
  time.textContent = clock(msg.time);
  meta.append(time);
  if (msg.from !== me && msg.serverId && msg.content !== "NOTICE") meta.append(reportButton(msg));
  li.append(body, meta);
  decorate(msg);
  if (msg.from === me) tick(msg);
  return li;
}

/** A message's payload as DOM: a file, or text with its links. */
export function content(msg) {
  if (msg.content === "FILE_MESSAGE" && isFileRef(msg.message)) return fileRefNodes(msg.message);
  if (msg.content === "FILE_MESSAGE" && isFilePayload(msg.message)) return file(msg.message);
  return linkified(plain(msg.message));
}

/** A message's ticks, on its bubble if it is drawn. */
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

function file(payload) {
  const href = `data:${payload.type || "application/octet-stream"};base64,${payload.data}`;
  const nodes = [];
  if (payload.type.startsWith("image/")) {
    const img = document.createElement("img");
    img.src = href;
    img.alt = payload.name;
    nodes.push(img);
  }
  const link = document.createElement("a");
  link.className = "file";
  link.href = href;
  link.download = payload.name;
  link.textContent = `${payload.name} (${formatSize(payload.size)})`;
  nodes.push(link);
  return nodes;
}
