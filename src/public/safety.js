// Safety and tidiness on the chat page: block and unblock from the
// conversation's header (a blocked conversation says so and cannot be
// written in), "Report" on someone else's message (a reason and a note, to
// the app's moderators), and per conversation in the sidebar mute (1 h, 8 h,
// always), pin (pinned on top) and archive (an "Archived" section). What the
// server holds is the truth: the blocks and the list's settings are loaded
// once, then kept by the answers and by SETTINGS_CHANGED frames, so every
// tab and device of the user follows.

const $ = (selector) => document.querySelector(selector);
const REPORT = "lunarloom:report";
const HOUR = 3_600_000;
/** "Always": a time no mute outlives. */
const ALWAYS = "9999-12-31T23:59:59Z";
const NONE = { mutedUntil: null, pinned: false, archived: false };

export class Safety {
  /**
   * @param {{client: import("./client.js").LunarLoomClient, me: string, changed: () => void, error: (text: string) => void}} options
   * `changed`: something the sidebar or the open conversation shows changed.
   */
  constructor({ client, me, changed, error }) {
    this.client = client;
    this.me = me;
    this.changed = changed;
    this.error = error;
    /** @type {Set<string>} */
    this.blocked = new Set();
    /** @type {Map<string, {mutedUntil: string | null, pinned: boolean, archived: boolean}>} */
    this.settings = new Map();
    client.on("settings", ({ message }) => this.apply(message));
    document.addEventListener(REPORT, (event) => this.openReport(event.detail));
    $("#report").addEventListener("submit", (event) => this.submitReport(event));
    $("#report-cancel").addEventListener("click", () => $("#report").close());
  }

  /** The list's conversations; then the blocks and the archived conversations (the list leaves them out), returning those for the page's model. */
  async load(listed) {
    this.listed(listed);
    const [blocks, archive] = await Promise.all([this.client.blocks(), this.client.conversations({ archived: true })]);
    for (const { user } of blocks) this.blocked.add(user);
    this.listed(archive.conversations);
    return archive.conversations;
  }

  /** Conversations as the server listed them. */
  listed(conversations) {
    for (const c of conversations) this.settings.set(c.id, { mutedUntil: c.mutedUntil, pinned: c.pinned, archived: c.archived });
  }

  get(peer) {
    return this.settings.get(peer) ?? NONE;
  }

  muted(peer) {
    const until = this.get(peer).mutedUntil;
    return until !== null && Date.parse(until) > Date.now();
  }

  /** A new message here: the server takes an unmuted conversation out of the archive, and so does the page. */
  incoming(peer) {
    const s = this.get(peer);
    if (s.archived && !this.muted(peer)) this.settings.set(peer, { ...s, archived: false });
  }

  /** A SETTINGS_CHANGED frame's change, from this tab or another device. */
  apply(change) {
    if (change.block) {
      if (change.block.on) this.blocked.add(change.block.user);
      else this.blocked.delete(change.block.user);
    } else if (change.conversation) {
      const { conversation, ...fields } = change;
      this.settings.set(conversation, { ...this.get(conversation), ...fields });
    } else {
      return;
    }
    this.changed();
  }

  /** The sidebar's main list: pinned on top, then the rest, each by recency; archived ones are apart. */
  arrange(chats) {
    const shown = chats.filter((c) => !this.get(c.peer).archived);
    return [...shown.filter((c) => this.get(c.peer).pinned), ...shown.filter((c) => !this.get(c.peer).pinned)];
  }

  /** Archived conversations, most recent first. */
  archivedOf(chats) {
    return chats.filter((c) => this.get(c.peer).archived);
  }

  /** Marks and menus on the sidebar's items (drawn by sidebar.js, main list and archive). */
  decorate() {
    for (const li of document.querySelectorAll("#conversations li, #archived-list li")) {
      const peer = li.dataset.peer;
      const s = this.get(peer);
      li.classList.toggle("pinned", s.pinned);
      li.classList.toggle("muted", this.muted(peer));
      li.querySelector(".conversation-menu")?.remove();
      li.append(this.menu(peer, s));
    }
    const count = document.querySelectorAll("#archived-list li").length;
    $("#archived").hidden = count === 0;
    $("#archived summary").textContent = `Archived (${count})`;
  }

  /** A conversation's options: mute for 1 h, 8 h or always (or unmute), pin or unpin, archive or unarchive. */
  menu(peer, s) {
    const select = document.createElement("select");
    select.className = "conversation-menu";
    select.setAttribute("aria-label", "Conversation options");
    const options = [
      ["", "⋯"],
      ...(this.muted(peer)
        ? [["unmute", "Unmute"]]
        : [
            ["mute-1h", "Mute for 1 hour"],
            ["mute-8h", "Mute for 8 hours"],
            ["mute-always", "Mute always"],
          ]),
      s.pinned ? ["unpin", "Unpin"] : ["pin", "Pin"],
      s.archived ? ["unarchive", "Unarchive"] : ["archive", "Archive"],
    ];
    for (const [value, label] of options) select.append(new Option(label, value));
    // Choosing here must not open the conversation underneath.
    select.addEventListener("click", (event) => event.stopPropagation());
    select.addEventListener("change", () => {
      const patch = PATCHES[select.value]?.();
      select.value = "";
      if (patch) void this.update(peer, patch);
    });
    return select;
  }

  async update(peer, patch) {
    try {
      this.listed([await this.client.updateConversation(peer, patch)]);
      this.changed();
    } catch (err) {
      this.error(`Could not change the conversation: ${err.message}`);
    }
  }

  /** The open conversation's block button, and a blocked one's note and closed composer. */
  showHeader(chat) {
    const button = $("#block-toggle");
    const blockable = chat.kind === "direct" && chat.peer !== this.me;
    const blocked = blockable && this.blocked.has(chat.peer);
    button.hidden = !blockable;
    button.textContent = blocked ? "Unblock" : "Block";
    button.onclick = () => void this.toggleBlock(chat.peer, blocked);
    $("#blocked-note").hidden = !blocked;
    for (const control of $("#composer").elements) control.disabled = blocked;
  }

  async toggleBlock(peer, blocked) {
    if (!blocked && !confirm(`Block ${peer}? Their messages stop reaching you, and they are not told.`)) return;
    try {
      if (blocked) await this.client.unblock(peer);
      else await this.client.block(peer);
      // This tab's SETTINGS_CHANGED frame says so too; the answer is enough to redraw now.
      this.apply({ block: { user: peer, on: !blocked } });
    } catch (err) {
      this.error(`Could not ${blocked ? "unblock" : "block"}: ${err.message}`);
    }
  }

  openReport(msg) {
    const dialog = $("#report");
    const form = dialog.querySelector("form");
    form.reset();
    form.dataset.peer = msg.peer;
    form.dataset.message = msg.serverId;
    form.dataset.from = msg.from;
    $("#report-status").textContent = "";
    dialog.showModal();
  }

  async submitReport(event) {
    event.preventDefault();
    const form = event.target;
    const { peer, message, from } = form.dataset;
    const note = form.elements.note.value.trim();
    const report = { conversation: peer, messages: [message], user: from, reason: form.elements.reason.value };
    if (note) report.note = note;
    try {
      await this.client.report(report);
      $("#report").close();
      $("#report-done").hidden = false;
      setTimeout(() => {
        $("#report-done").hidden = true;
      }, 4000);
    } catch (err) {
      $("#report-status").textContent = `Could not report: ${err.message}`;
    }
  }
}

const PATCHES = {
  "mute-1h": () => ({ mutedUntil: new Date(Date.now() + HOUR).toISOString() }),
  "mute-8h": () => ({ mutedUntil: new Date(Date.now() + 8 * HOUR).toISOString() }),
  "mute-always": () => ({ mutedUntil: ALWAYS }),
  unmute: () => ({ mutedUntil: null }),
  pin: () => ({ pinned: true }),
  unpin: () => ({ pinned: false }),
  archive: () => ({ archived: true }),
  unarchive: () => ({ archived: false }),
};

/** The "Report" button of someone else's message (bubble.js puts it on the bubble; the page's Safety answers it). */
export function reportButton(msg) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "report";
  button.textContent = "Report";
  button.addEventListener("click", () => document.dispatchEvent(new CustomEvent(REPORT, { detail: msg })));
  return button;
}
