// The page's view model: conversations and their messages, merged from the
// conversation list, history pages and the socket by server id, so a message
// that arrives more than one way is one bubble. No DOM and no client here.

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
 * @property {string} content
 * @property {unknown} message
 * @property {string} time
 * @property {"failed"|"pending"|"received"|"delivered"|"read"} [status] ticks, for our own messages
 * @property {string} [error] why a send failed
 * @property {HTMLElement} [el] its bubble, while one is on screen
 */

/**
 * @typedef {object} Chat
 * @property {string} peer
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
    this.touches = 0;
  }

  /** @returns {Chat} */
  chat(peer) {
    let chat = this.byPeer.get(peer);
    if (!chat) {
      chat = { peer, items: [], last: null, unread: 0, touched: 0, loaded: false, next: null, loading: null };
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

  /**
   * The peer's receipt for one of our messages. Receipts are watermarks
   * (history's status counts them so): every earlier message of ours in that
   * conversation is delivered or read too. Returns the messages whose tick moved.
   */
  receipt(receipt) {
    const target = this.byServerId.get(receipt.message);
    if (!target || target.from !== this.me || receipt.from === this.me) return [];
    const status = FROM_RECEIPT[receipt.content];
    const items = this.chat(target.peer).items;
    const upTo = items.indexOf(target);
    const candidates = upTo < 0 ? [target] : items.slice(0, upTo + 1);
    return candidates.filter((m) => m.from === this.me && m.serverId !== undefined && raise(m, status));
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
    const status = frame.from === this.me ? (FROM_STATUS[frame.status] ?? "received") : undefined;
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

/** Moves a tick up; true if it moved. */
function raise(msg, status) {
  if (RANK[status] <= RANK[msg.status]) return false;
  msg.status = status;
  return true;
}
