// The page's view model: conversations and their messages, merged from the
// conversation list, history pages and the socket by server id, so a message
// that arrives more than one way is one bubble, and ordered by `seq`, the
// message's place in the user's log, however the pages and live frames
// interleave; a group's name, members and whether the user is still one of
// them; how far the user has read; who is typing where, and who is online;
// each conversation's draft. No DOM and no client here.

/** Tick order: a message only ever moves up it. */
const RANK = { failed: -1, pending: 0, received: 1, delivered: 2, read: 3 };
/** History's `status` of our own messages, in the page's tick names. */
const FROM_STATUS = { stored: "received", delivered: "delivered", read: "read" };
const FROM_RECEIPT = { MESSAGE_DELIVERED: "delivered", MESSAGE_READ: "read" };

/**
 * @typedef {object} Msg
 * @property {string} [serverId]
 * @property {number} [seq] its place in the user's log, once known (our own sends learn it only from history or a replay)
 * @property {number} [after] for our sends without a seq: the conversation's newest seq when sent, which it sorts after
 * @property {number} [n] for our sends: the page's send counter, which orders sends made after the same seq
 * @property {string} [clientId] set while one of our sends waits for its ack
 * @property {string} from
 * @property {string} peer the conversation
 * @property {string} content TEXT_MESSAGE, FILE_MESSAGE, NOTICE, or GROUP_EVENT (a line about the group, not a bubble)
 * @property {unknown} message
 * @property {string} time
 * @property {"failed"|"pending"|"received"|"delivered"|"read"} [status] ticks, for our own messages
 * @property {string} [error] why a send failed
 * @property {HTMLElement} [el] its bubble, while one is on screen
 * @property {string} [replyTo] the server id of the message it answers
 * @property {string} [edited] when it was last edited (its `message` is the latest)
 * @property {string} [deleted] when it was deleted for everyone (its `message` is null)
 * @property {{key: string, count: number, me: boolean}[]} [reactions] in order of first use (changes.js keeps them)
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
 * @property {Msg[]} items in log order (by seq); our sends with no seq yet after what the conversation had when they were sent
 * @property {Msg | null} last the newest message, for the preview
 * @property {number} unread from the client's unread events
 * @property {number} readUpTo the seq of the newest incoming message the user has read (from the list, then from reads)
 * @property {string} draft what the user has typed here and not sent
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
    this.sends = 0;
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
        readUpTo: 0,
        draft: "",
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
    chat.readUpTo = Math.max(chat.readUpTo, conversation.readUpTo ?? 0);
    if (conversation.kind === "group") chat.name = conversation.name;
    if (conversation.last) chat.last = this.adopt(conversation.id, conversation.last);
  }

  /** A message from the socket; null if it is already here (our own send, or a replay). */
  incoming(frame, peer) {
    if (this.byServerId.has(frame.id)) return null;
    const msg = this.adopt(peer, frame);
    const chat = this.chat(peer);
    place(chat, msg);
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
    place(chat, msg);
    this.touch(chat, msg);
    const { event, user, role, name, members } = frame.message;
    if (name !== undefined) chat.name = name;
    if (event === "created") {
      chat.members = new Map(members.map((m) => [m.user, member(m.role)]));
      chat.member = chat.members.has(this.me);
    } else if (event === "member_added") {
      // A batch names its members in `members`; one added is `user`.
      for (const m of members ?? [{ user, role }]) {
        chat.members?.set(m.user, member(m.role));
        if (m.user === this.me) chat.member = true;
      }
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

  /** One of our sends, before the server has it: after everything the conversation shows. */
  sent(outgoing) {
    const chat = this.chat(outgoing.to);
    const newest = chat.items.at(-1);
    const msg = {
      after: newest ? sortKey(newest) : 0,
      n: ++this.sends,
      clientId: outgoing.id,
      from: this.me,
      peer: outgoing.to,
      content: outgoing.content,
      message: outgoing.message,
      replyTo: outgoing.replyTo,
      time: new Date().toISOString(),
      status: "pending",
    };
    this.byClientId.set(outgoing.id, msg);
    place(chat, msg);
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
    // The lowest watermarks, found in one pass over the members (a large group's 1,000), not one per message.
    let read = Number.POSITIVE_INFINITY;
    let delivered = Number.POSITIVE_INFINITY;
    for (const [user, m] of chat.members) {
      if (user === this.me) continue;
      read = Math.min(read, at(m.read));
      delivered = Math.min(delivered, Math.max(at(m.read), at(m.delivered)));
    }
    if (read === Number.POSITIVE_INFINITY) return [];
    return chat.items.filter((msg, i) => {
      if (msg.from !== this.me || msg.serverId === undefined || !isMessage(msg)) return false;
      if (read >= i) return raise(msg, "read");
      return delivered >= i && raise(msg, "delivered");
    });
  }

  /**
   * A history page: the newest (`older` false) or the one before what is
   * loaded. Each message goes in its place by seq, wherever live frames
   * already put others. Returns the messages new to `items`, oldest first.
   */
  history(peer, page, older) {
    const chat = this.chat(peer);
    const present = new Set(chat.items);
    const added = [];
    for (const frame of page.messages) {
      const msg = this.adopt(peer, frame);
      if (present.has(msg)) continue;
      place(chat, msg);
      added.push(msg);
    }
    if (!older) {
      chat.loaded = true;
      if (!chat.last && chat.items.length > 0) chat.last = chat.items.at(-1);
    }
    // Everything from the oldest message here on is loaded (live frames and pages meet without a gap), so the next page ends before it.
    const oldest = chat.items.find((m) => m.seq !== undefined)?.seq;
    chat.next = page.next === null ? null : Math.min(page.next, oldest ?? page.next);
    return added;
  }

  /** The user read up to this message here: later ones are what a "new messages" line marks. */
  read(msg) {
    const chat = this.chat(msg.peer);
    if (msg.seq !== undefined && msg.seq > chat.readUpTo) chat.readUpTo = msg.seq;
  }

  /**
   * The first incoming message the user has not read; null if there is
   * none, or if it is not loaded (fewer unread messages are loaded than the
   * conversation has).
   */
  firstUnread(chat) {
    const unread = chat.items.filter((m) => m.from !== this.me && isMessage(m) && m.seq !== undefined && m.seq > chat.readUpTo);
    return unread.length > 0 && unread.length >= chat.unread ? unread[0] : null;
  }

  /** The one Msg for a logged frame, however many ways it arrives; its tick the best any of them told. */
  adopt(peer, frame) {
    const known = this.byServerId.get(frame.id);
    const status = frame.from === this.me && isMessage(frame) ? (FROM_STATUS[frame.status] ?? "received") : undefined;
    if (known) {
      if (status) raise(known, status);
      // A history page or the list: the message as it is now.
      if (frame.seq !== undefined) Object.assign(known, stateOf(frame));
      if (known.seq === undefined && frame.seq !== undefined) {
        // One of our sends, now with its place in the log: move it there.
        const chat = this.chat(known.peer);
        const at = chat.items.indexOf(known);
        known.seq = frame.seq;
        if (at >= 0) {
          chat.items.splice(at, 1);
          place(chat, known);
        }
      }
      return known;
    }
    const msg = {
      serverId: frame.id,
      seq: frame.seq,
      from: frame.from,
      peer,
      content: frame.content,
      time: frame.time,
      status,
      replyTo: frame.replyTo,
      ...stateOf(frame),
    };
    this.byServerId.set(frame.id, msg);
    return msg;
  }

  touch(chat, msg) {
    chat.last = msg;
    chat.touched = ++this.touches;
  }
}

/** A message's payload and what happened to it since (history items carry edited, deleted and reactions). */
function stateOf({ message, edited, deleted, reactions }) {
  return { message, edited, deleted, reactions };
}

/** Where a message sorts: its seq, or for a send without one, the seq it was sent after. */
function sortKey(msg) {
  return msg.seq ?? msg.after ?? 0;
}

/** True if `a` comes before `b`: by seq; a send after the logged frame whose seq it was sent after, and sends in send order. */
function precedes(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  if (ka !== kb) return ka < kb;
  return (a.seq === undefined ? a.n : 0) < (b.seq === undefined ? b.n : 0);
}

/** Puts a message in its place in the conversation (searching from the end: most arrive newest). */
function place(chat, msg) {
  let i = chat.items.length;
  while (i > 0 && precedes(msg, chat.items[i - 1])) i--;
  chat.items.splice(i, 0, msg);
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
