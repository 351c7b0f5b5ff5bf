// A group's member list: every member with their role; admins get a Remove
// button for each other member and the Add form; anyone may leave.

const $ = (selector) => document.querySelector(selector);

/**
 * @param {import("./model.js").Chat} chat
 * @param {{me: string, visible: boolean, remove: (user: string) => void}} options
 */
export function showMembers(chat, { me, visible, remove }) {
  const panel = $("#members");
  panel.hidden = !visible || chat.kind !== "group" || !chat.member;
  if (panel.hidden) return;
  const admin = chat.members?.get(me)?.role === "admin";
  $("#member-list").replaceChildren(
    ...[...(chat.members ?? [])].map(([user, { role }]) => {
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
    }),
  );
  $("#add-member").hidden = !admin;
}
