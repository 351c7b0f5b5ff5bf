// The conversation list: a name (with a presence dot for a direct peer), an
// unread badge, and the last message or who is typing.
import { lastSeen, summary, title, typists } from "./format.js";

const $ = (selector) => document.querySelector(selector);

/**
 * @param {import("./model.js").Chat[]} chats most recent first
 * @param {{me: string, current: string, open: (peer: string) => void, presence: import("./model.js").Chats["presence"], into?: string}} options
 */
export function renderList(chats, { me, current, open, presence, into = "#conversations" }) {
  $(into).replaceChildren(
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

function dot(status) {
  const span = document.createElement("span");
  span.className = "dot";
  span.dataset.status = status.status;
  span.title = lastSeen(status);
  return span;
}
