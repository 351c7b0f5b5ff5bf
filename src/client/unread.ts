/**
 * Unread counts a UI can show as badges, kept right between fetches of the
 * conversation list. The server's counts are absolute and only come over
 * HTTP, so the list seeds them, messages on the socket add to them, and
 * reads (this client's markRead, or the user's own MESSAGE_READ from another
 * tab or device) take from them, locally wherever that is exact. Where it is
 * not (a read of a message older than the list's view of its conversation, a
 * message this client never saw, a conversation the list did not reach), the
 * first page of the list is fetched again, once per burst.
 *
 * Exact locally, because a conversation's `lastSeq` in a response is its
 * newest message then: a message on the socket with a higher seq came after
 * that response and is not in its count; one at or below it is.
 */
import type { UserMsgFrame } from "../protocol/frames.ts";
import type { ConversationPage, ConversationsQuery, HistoryFrame } from "./api.ts";
import { conversationOf } from "./frames.ts";

export interface UnreadChange {
  /** Unread messages over all the user's conversations. */
  total: number;
  /** The conversations whose count changed, with the new count (every listed one, the first time). */
  conversations: { id: string; unread: number }[];
}

export interface UnreadHooks {
  /** The user's identity, once a socket said it. */
  me(): string | null;
  /** The first page of the conversation list, fresh from the server, in the app's page size. */
  refetch(limit: number | undefined): Promise<ConversationPage>;
  changed(change: UnreadChange): void;
}

/**
 * One conversation's count: `base` unread as the server counted them up to
 * seq `floor`, plus the incoming messages after `floor` seen since. Kept so
 * that every seq in `fresh` is unread: above `floor`, and `floor` is moved up
 * to `readUpTo` whenever a read passes it.
 */
interface Entry {
  base: number;
  floor: number;
  readUpTo: number;
  fresh: number[];
}

/** Reads and receipts come in bursts (opening a chat, another tab catching up): one refetch for each. */
const DEBOUNCE_MS = 250;
/** A refetch that failed, or that the server answered before it had applied this client's read, is tried this often in all. */
const MAX_ATTEMPTS = 4;
/** Incoming messages remembered by server id, for markRead and receipts: far more than any view shows. */
const MESSAGES_KEPT = 10_000;

type Timer = ReturnType<typeof setTimeout>;

export class UnreadCounts {
  private readonly entries = new Map<string, Entry>();
  /** Unread in conversations the list has not shown this client, as of its latest first page. */
  private rest = 0;
  /**
   * Null until the app first lists conversations: before that there is no
   * count to keep right. `cutoff` is the last conversation's lastSeq when
   * the first page was not the whole list (0 when it was): a conversation
   * that page left out had nothing newer than that.
   */
  private first: { limit: number | undefined; cutoff: number } | null = null;
  private readonly messages = new Map<string, { conversation: string; seq: number; from: string }>();
  /** Conversation → the readUpTo this client's reads must show up as on the server. */
  private readonly expected = new Map<string, number>();
  private readonly shown = new Map<string, number>();
  private shownTotal = 0;
  private timer: Timer | undefined;
  private running = false;
  private again = false;
  private attempts = 0;
  /** Bumped by stop(): a refetch that answers after it changes nothing. */
  private generation = 0;

  private readonly hooks: UnreadHooks;

  constructor(hooks: UnreadHooks) {
    this.hooks = hooks;
  }

  /** A page of GET /v1/conversations, as the app asked for it. */
  listed(page: ConversationPage, query: ConversationsQuery): void {
    const ids = page.conversations.map((c) => c.id);
    if (query.before === undefined) {
      const last = page.conversations.at(-1);
      const cutoff = page.next === null || last === undefined ? 0 : last.lastSeq;
      this.first = { limit: query.limit, cutoff };
      const listed = new Set(ids);
      let rest = page.unread;
      for (const c of page.conversations) rest -= c.unread;
      // What the response counted for conversations it left out is what this client had for them then.
      for (const [id, e] of this.entries) if (!listed.has(id)) rest -= e.base + e.fresh.filter((s) => s <= cutoff).length;
      this.rest = Math.max(0, rest);
      // A read in a conversation this page does not show cannot be checked: drop the expectation.
      for (const id of this.expected.keys()) if (!listed.has(id)) this.expected.delete(id);
    } else {
      if (this.first === null) return;
      // Conversations seen for the first time move out of `rest`.
      for (const c of page.conversations) if (!this.entries.has(c.id)) this.rest = Math.max(0, this.rest - c.unread);
    }
    for (const c of page.conversations) {
      // The newest message is the one a reader most often marks read: then the read is placed without asking.
      if (c.last?.type === "USER_MSG") this.remember(c.last.id, c.id, c.last.seq, c.last.from);
      const old = this.entries.get(c.id);
      const entry: Entry = {
        base: c.unread,
        floor: c.lastSeq,
        readUpTo: Math.max(c.readUpTo, old?.readUpTo ?? 0),
        fresh: (old?.fresh ?? []).filter((s) => s > c.lastSeq),
      };
      settle(entry);
      this.entries.set(c.id, entry);
      const want = this.expected.get(c.id);
      if (want !== undefined && c.readUpTo >= want) this.expected.delete(c.id);
    }
    this.report(ids);
  }

  /** A page of a conversation's history: its messages' seqs, for reads of them later. */
  learned(conversation: string, frames: HistoryFrame[]): void {
    for (const f of frames) if (f.type === "USER_MSG") this.remember(f.id, conversation, f.seq, f.from);
  }

  /** A message from the socket. */
  incoming(frame: UserMsgFrame): void {
    const me = this.hooks.me();
    if (me === null || frame.from === me) return;
    const id = conversationOf(me, frame);
    this.remember(frame.id, id, frame.seq, frame.from);
    if (this.first === null) return;
    let e = this.entries.get(id);
    if (e === undefined) {
      // Older than the first page's last conversation: counted in `rest` already.
      if (frame.seq < this.first.cutoff) return;
      e = { base: 0, floor: 0, readUpTo: 0, fresh: [] };
      this.entries.set(id, e);
      // With a partial list this may be an old conversation with unread of its own: the server knows how many.
      if (this.first.cutoff > 0) this.schedule();
    }
    if (frame.seq <= e.floor) return;
    e.fresh.push(frame.seq);
    this.report([id]);
  }

  /** The user read a message: this client's markRead, or their own MESSAGE_READ from another tab or device. */
  read(serverId: string): void {
    if (this.first === null) return;
    const m = this.messages.get(serverId);
    const e = m && this.entries.get(m.conversation);
    if (m === undefined || e === undefined) {
      // Only the server knows which conversation this moved, and how far.
      this.schedule();
      return;
    }
    if (m.from === this.hooks.me() || m.seq <= e.readUpTo) return;
    e.readUpTo = m.seq;
    settle(e);
    if (e.readUpTo < e.floor && e.base > 0) {
      // Some of `base` may be older than this message, some newer: the server recounts.
      this.expected.set(m.conversation, Math.max(m.seq, this.expected.get(m.conversation) ?? 0));
      this.schedule();
    }
    this.report([m.conversation]);
  }

  /** An incoming message was deleted (for everyone, or for the user): it no longer counts as unread. */
  gone(serverId: string): void {
    if (this.first === null) return;
    const m = this.messages.get(serverId);
    const e = m && this.entries.get(m.conversation);
    if (m === undefined || e === undefined) {
      this.schedule();
      return;
    }
    if (m.from === this.hooks.me() || m.seq <= e.readUpTo) return;
    const at = e.fresh.indexOf(m.seq);
    if (at >= 0) {
      e.fresh.splice(at, 1);
      this.report([m.conversation]);
    } else if (m.seq <= e.floor) {
      // Counted in the server's `base`: the server recounts.
      this.schedule();
    }
  }

  /** The client closed: no more refetches, and one in flight changes nothing. */
  stop(): void {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
    this.attempts = 0;
  }

  private remember(serverId: string, conversation: string, seq: number, from: string): void {
    this.messages.set(serverId, { conversation, seq, from });
    if (this.messages.size > MESSAGES_KEPT) this.messages.delete(this.messages.keys().next().value!);
  }

  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer ??= setTimeout(() => void this.refetch(), DEBOUNCE_MS * 2 ** this.attempts);
  }

  private async refetch(): Promise<void> {
    this.timer = undefined;
    const { limit } = this.first!;
    const generation = this.generation;
    this.running = true;
    let page: ConversationPage | null = null;
    try {
      page = await this.hooks.refetch(limit);
    } catch {
      // Offline or refused: the counts stay as they are until a later try.
    } finally {
      this.running = false;
    }
    if (generation !== this.generation) return;
    if (page) this.listed(page, { limit });
    if (page === null || this.expected.size > 0) {
      // Not there yet (the server answered before applying a read): try again, later each time.
      if (++this.attempts < MAX_ATTEMPTS) this.again = true;
      else {
        this.attempts = 0;
        this.expected.clear();
      }
    } else {
      this.attempts = 0;
    }
    if (this.again) {
      this.again = false;
      this.schedule();
    }
  }

  private count(e: Entry): number {
    return e.base + e.fresh.length;
  }

  private report(ids: Iterable<string>): void {
    const conversations: UnreadChange["conversations"] = [];
    for (const id of ids) {
      const unread = this.count(this.entries.get(id)!);
      if (this.shown.get(id) === unread) continue;
      this.shown.set(id, unread);
      conversations.push({ id, unread });
    }
    let total = this.rest;
    for (const e of this.entries.values()) total += this.count(e);
    if (conversations.length === 0 && total === this.shownTotal) return;
    this.shownTotal = total;
    this.hooks.changed({ total, conversations });
  }
}

/** A read at or past `floor` leaves nothing of `base` unread, and nothing in `fresh` at or below it. */
function settle(e: Entry): void {
  if (e.readUpTo < e.floor) return;
  e.base = 0;
  e.floor = e.readUpTo;
  e.fresh = e.fresh.filter((s) => s > e.readUpTo);
}
