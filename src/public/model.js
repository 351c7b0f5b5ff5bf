// The page's view model: conversations and their messages, merged from the
// conversation list, history pages and the socket by server id, so a message
// that arrives more than one way is one bubble; a group's name, members and
// whether the user is still one of them; who is typing where, and who is
// online. No DOM and no client here.

/** Tick order: a message only ever moves up it. */
const RANK = { failed: -1, pending: 0, received: 1, delivered: 2, read: 3 };
/** History's `status` of our own messages, in the page's tick names. */
const FROM_STATUS = { stored: "received", delivered: "delivered", read: "read" };
const FROM_RECEIPT = { MESSAGE_DELIVERED: "delivered", MESSAGE_READ: "read" };

/**
 * @typedef {object} Msg
 * @property {string} [serverId]
 * @property {string} [clientId] set while one of our sends waits for its ack
 * @property {string} from
 * @property {string} peer the conversation
 * @property {string} content TEXT_MESSAGE, FILE_MESSAGE, NOTICE, or GROUP_EVENT (a line about the group, not a bubble)
 * @property {unknown} message
 * @property {string} time
 * @property {"failed"|"pending"|"received"|"delivered"|"read"} [status] ticks, for our own messages
 * @property {string} [error] why a send failed
 * @property {HTMLElement} [el] its bubble, while one is on screen
 */

/**
 * @typedef {object} Member
 * @property {"admin"|"member"} role
 * @property {string | null} delivered the server id of the latest group message they reported delivered
 * @property {string | null} read the same for read
 */

/**
 * @typedef {object} Chat
 * @property {string} peer the conversation's id: the other user, a group's id, or "system"
 * @property {"direct"|"group"|"system"} kind
 * @property {string | null} name a group's name, once the list or an event said it
 * @property {Map<string, Member> | null} members a group's members, once fetched; kept by its events and receipts
 * @property {boolean} member false once the user left or was removed from the group
 * @property {Set<string>} typing who is typing in it now
 * @property {Msg[]} items in log order; our sends that have no seq yet come last, in send order
 * @property {Msg | null} last the newest message, for the preview
 * @property {number} unread from the client's unread events
 * @property {number} touched sidebar order: higher is more recent
 * @property {boolean} loaded its newest history page is in `items`
 * @property {number | null} next the `before` of the next older page; null at the start
 * @property {Promise<void> | null} loading the history page on its way
 */

export class Chats {
  /** @param {string} me */
  constructor(me) {
    this.me = me;
    /** @type {Map<string, Chat>} */
    this.byPeer = new Map();
    /** @type {Map<string, Msg>} */
    this.byServerId = new Map();
    /** @type {Map<string, Msg>} */
    this.byClientId = new Map();
    /** @type {Map<string, {status: "online"|"offline", lastSeen: string | null}>} watched users' presence */
    this.presence = new Map();
    this.touches = 0;
  }

  /** @returns {Chat} */
  chat(peer) {
    let chat = this.byPeer.get(peer);
    if (!chat) {
      const kind = peer.startsWith("group:") ? "group" : peer === "system" ? "system" : "direct";
      chat = {
        peer,
        kind,
        name: null,
        members: null,
        member: true,
        typing: new Set(),
        items: [],
        last: null,
        unread: 0,
        touched: 0,
        loaded: false,
        next: null,
        loading: null,
      };
      this.byPeer.set(peer, chat);
    }
    return chat;
  }

  /** Most recent first. */
  sorted() {
    return [...this.byPeer.values()].sort((a, b) => b.touched - a.touched);
  }

  /** The list's entry at `index` (0 = most recent): below anything that happens live. */
  listed(conversation, index) {
    const chat = this.chat(conversation.id);
    chat.touched = -index;
    if (conversation.kind === "group") chat.name = conversation.name;
    if (conversation.last) chat.last = this.adopt(conversation.id, conversation.last);
  }

  /** A message from the socket; null if it is already here (our own send, or a replay). */
  incoming(frame, peer) {
    if (this.byServerId.has(frame.id)) return null;
    const msg = this.adopt(peer, frame);
    const chat = this.chat(peer);
    chat.items.push(msg);
    this.touch(chat, msg);
    return { chat, msg };
  }

  /**
   * A change to a group, from the socket: a line in its conversation, and
   * the group's name, members and the user's membership follow it. Null if
   * it is already here.
   */
  groupEvent(frame) {
    if (this.byServerId.has(frame.id)) return null;
    const msg = this.adopt(frame.to, frame);
    const chat = this.chat(frame.to);
    chat.items.push(msg);
    this.touch(chat, msg);
    const { event, user, role, name, members } = frame.message;
    if (name !== undefined) chat.name = name;
    if (event === "created") {
      chat.members = new Map(members.map((m) => [m.user, member(m.role)]));
      chat.member = chat.members.has(this.me);
    } else if (event === "member_added") {
      chat.members?.set(user, member(role));
      if (user === this.me) chat.member = true;
    } else if (event === "role_changed") {
      const changed = chat.members?.get(user);
      if (changed) changed.role = role;
    } else if (event === "member_removed" || event === "member_left") {
      chat.members?.delete(user);
      if (user === this.me) {
        chat.member = false;
        chat.members = null;
      }
    }
    return { chat, msg };
  }

  /** A group as GET /v1/groups (or a change to it) answered: its members now (none to show once the user has left). */
  group(group) {
    const chat = this.chat(group.id);
    chat.name = group.name;
    chat.member = group.members.some((m) => m.user === this.me);
    chat.members = chat.member
      ? new Map(group.members.map((m) => [m.user, { role: m.role, delivered: m.deliveredUpTo, read: m.readUpTo }]))
      : null;
    return chat;
  }

  /** The group answered 404: the user is not (or no longer) a member. */
  notMember(id) {
    const chat = this.chat(id);
    chat.member = false;
    chat.members = null;
    return chat;
  }

  /** A typing event; false if it changed nothing. */
  typing({ conversation, user, typing }) {
    const set = this.chat(conversation).typing;
    if (set.has(user) === typing) return false;
    if (typing) set.add(user);
    else set.delete(user);
    return true;
  }

  /** The direct peers to watch for presence: those the user has a conversation with (the server answers only for them), latest first. */
  peers(max) {
    return this.sorted()
      .filter((c) => c.kind === "direct" && c.peer !== this.me && c.last?.serverId !== undefined)
      .slice(0, max)
      .map((c) => c.peer);
  }

  /** One of our sends, before the server has it. */
  sent(outgoing) {
    const msg = {
      clientId: outgoing.id,
      from: this.me,
      peer: outgoing.to,
      content: outgoing.content,
      message: outgoing.message,
      time: new Date().toISOString(),
      status: "pending",
    };
    this.byClientId.set(outgoing.id, msg);
    const chat = this.chat(outgoing.to);
    chat.items.push(msg);
    this.touch(chat, msg);
    return msg;
  }

  /**
   * The server stored our send. Returns the message to re-render, and the one
   * to take off screen when a resume brought our copy of it first.
   */
  acked(clientId, serverId) {
    const msg = this.byClientId.get(clientId);
    if (!msg) return null;
    this.byClientId.delete(clientId);
    const copy = this.byServerId.get(serverId);
    if (copy) {
      const chat = this.chat(msg.peer);
      chat.items = chat.items.filter((m) => m !== msg);
      raise(copy, "received");
      return { msg: copy, removed: msg };
    }
    msg.serverId = serverId;
    this.byServerId.set(serverId, msg);
    raise(msg, "received");
    return { msg, removed: null };
  }

  failed(clientId, error) {
    const msg = this.byClientId.get(clientId);
    if (!msg) return null;
    this.byClientId.delete(clientId);
    msg.status = "failed";
    msg.error = error;
    return msg;
  }

  /** The server stored our group message and then refused it (we had been removed): it reached nobody. */
  refused(serverId, error) {
    const msg = this.byServerId.get(serverId);
    if (!msg) return null;
    msg.status = "failed";
    msg.error = error;
    return msg;
  }

  /**
   * The peer's receipt for one of our messages. Receipts are watermarks
   * (history's status counts them so): every earlier message of ours in that
   * conversation is delivered or read too. Returns the messages whose tick moved.
   */
  receipt(receipt) {
    const target = this.byServerId.get(receipt.message);
    if (!target || target.from !== this.me || receipt.from === this.me) return [];
    const chat = this.chat(target.peer);
    if (chat.kind === "group") {
      // One member's receipt moves that member's watermark; the tick waits for all of them.
      const watermarks = chat.members?.get(receipt.from);
      if (!watermarks) return [];
      const kind = receipt.content === "MESSAGE_READ" ? "read" : "delivered";
      const at = positions(chat);
      if (at(receipt.message) >= at(watermarks[kind])) watermarks[kind] = receipt.message;
      return this.groupTicks(chat);
    }
    const status = FROM_RECEIPT[receipt.content];
    const items = this.chat(target.peer).items;
    const upTo = items.indexOf(target);
    const candidates = upTo < 0 ? [target] : items.slice(0, upTo + 1);
    return candidates.filter((m) => m.from === this.me && m.serverId !== undefined && raise(m, status));
  }

  /**
   * Ticks of our messages in a group, from its members' watermarks: ✓✓ once
   * every other member's device has it, read once every other member has
   * read it (or something after it). Returns the messages whose tick moved.
   */
  groupTicks(chat) {
    if (chat.kind !== "group" || !chat.members) return [];
    const at = positions(chat);
    const others = [...chat.members].filter(([user]) => user !== this.me).map(([, m]) => m);
    if (others.length === 0) return [];
    return chat.items.filter((msg, i) => {
      if (msg.from !== this.me || msg.serverId === undefined || !isMessage(msg)) return false;
      if (others.every((m) => at(m.read) >= i)) return raise(msg, "read");
      return others.every((m) => Math.max(at(m.read), at(m.delivered)) >= i) && raise(msg, "delivered");
    });
  }

  /**
   * A history page: the newest (`older` false) or the one before what is
   * loaded. Returns the messages new to `items`, oldest first.
   */
  history(peer, page, older) {
    const chat = this.chat(peer);
    const msgs = page.messages.map((frame) => this.adopt(peer, frame));
    const present = new Set(chat.items);
    const added = msgs.filter((m) => !present.has(m));
    if (older) {
      chat.items = [...added, ...chat.items];
    } else {
      // Whatever came live while the page was on its way and is not in it is newer.
      const inPage = new Set(msgs);
      chat.items = [...msgs, ...chat.items.filter((m) => !inPage.has(m))];
      chat.loaded = true;
      if (!chat.last && msgs.length > 0) chat.last = msgs.at(-1);
    }
    chat.next = page.next;
    return added;
  }

  /** The one Msg for a logged frame, however many ways it arrives; its tick the best any of them told. */
  adopt(peer, frame) {
    const known = this.byServerId.get(frame.id);
    const status = frame.from === this.me && isMessage(frame) ? (FROM_STATUS[frame.status] ?? "received") : undefined;
    if (known) {
      if (status) raise(known, status);
      return known;
    }
    const msg = { serverId: frame.id, from: frame.from, peer, content: frame.content, message: frame.message, time: frame.time, status };
    this.byServerId.set(frame.id, msg);
    return msg;
  }

  touch(chat, msg) {
    chat.last = msg;
    chat.touched = ++this.touches;
  }
}

/** A member who has reported nothing yet. */
function member(role) {
  return { role, delivered: null, read: null };
}

/** A server id's place in the conversation as loaded; -1 for none, or one older than what is loaded. */
function positions(chat) {
  const index = new Map(chat.items.map((m, i) => [m.serverId, i]));
  return (serverId) => (serverId === null ? -1 : (index.get(serverId) ?? -1));
}

/** A message bubble, not a line about the group or a notice. */
export function isMessage(msg) {
  return msg.content === "TEXT_MESSAGE" || msg.content === "FILE_MESSAGE";
}

/** Moves a tick up; true if it moved. */
function raise(msg, status) {
  if (RANK[status] <= RANK[msg.status]) return false;
  msg.status = status;
  return true;
}
