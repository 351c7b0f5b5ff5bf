// A group's member list: every member with their role; admins get a Remove
// button for each other member and the Add form; anyone may leave. A large
// group's list is drawn a page at a time (a "Show more" row adds the next),
// so opening a 1,000-member group draws 100 rows, not 1,000; nothing here
// runs when a message arrives, only when the list is shown or the group changes.

const $ = (selector) => document.querySelector(selector);

/** Rows drawn at first, and added by each "Show more". */
const PAGE = 100;

/** How many rows of which group are drawn: kept while the same group stays open. */
let shown = { peer: null, rows: PAGE };

/**
 * @param {import("./model.js").Chat} chat
 * @param {{me: string, visible: boolean, remove: (user: string) => void}} options
 */
export function showMembers(chat, { me, visible, remove }) {
  const panel = $("#members");
  panel.hidden = !visible || chat.kind !== "group" || !chat.member;
  if (panel.hidden) return;
  if (shown.peer !== chat.peer) shown = { peer: chat.peer, rows: PAGE };
  const admin = chat.members?.get(me)?.role === "admin";
  const all = [...(chat.members ?? [])];
  $("#members h3").textContent = all.length > PAGE ? `Members (${all.length})` : "Members";
  const rows = all.slice(0, shown.rows).map(([user, { role }]) => row(user, role, { me, admin, remove }));
  if (all.length > shown.rows) rows.push(more(all.length - shown.rows, () => showMembers(chat, { me, visible, remove })));
  $("#member-list").replaceChildren(...rows);
  $("#add-member").hidden = !admin;
}

function row(user, role, { me, admin, remove }) {
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
}

/** The row that draws the next page. */
function more(left, redraw) {
  const li = document.createElement("li");
  li.className = "more";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = `Show ${Math.min(left, PAGE)} more of ${left}`;
  button.addEventListener("click", () => {
    shown.rows += PAGE;
    redraw();
  });
  li.append(button);
  return li;
}
