/**
 * Typing indicators (PROTOCOL.md, Ephemeral events), both ways. TYPING
 * frames are never stored or retried, so both halves keep the protocol's two
 * clocks: a typist repeats `true` every 3 s, and a reader takes a peer as
 * stopped 6 s after the last `true`. A lost `false`, or a tab closed in the
 * middle of a word, then costs an indicator at most 6 s, never forever.
 */
import type { TypingFrame, UserMsgFrame } from "../protocol/frames.ts";
import { conversationOf, type OutgoingTyping } from "./frames.ts";

/** How often a typist says `true` again: the server forwards one per second at most, and readers expire one after 6 s. */
export const TYPING_REPEAT_MS = 3_000;
/** How long a reader shows a peer as typing after their last `true`. */
export const TYPING_EXPIRY_MS = 6_000;

/** Someone started or stopped typing in a conversation (a user's id, or a group's). */
export interface TypingChange {
  conversation: string;
  user: string;
  typing: boolean;
}

type Timer = ReturnType<typeof setTimeout>;

/** This user's own typing: per conversation, `true` now and every 3 s until it stops, then one `false`. */
export class TypingSender {
  /**
   * The conversations being typed in. One frame id per spell of typing, so
   * that an ERROR's `ref` names the spell (a group one is not a member of).
   */
  private readonly active = new Map<string, { id: string; timer: Timer }>();
  /** Writes a frame if a socket is open and the send rate allows it now; otherwise it is simply not sent (it is ephemeral). */
  private readonly write: (text: string) => boolean;

  constructor(write: (text: string) => boolean) {
    this.write = write;
  }

  start(to: string): void {
    if (this.active.has(to)) return;
    const id = `typing-${crypto.randomUUID()}`;
    this.active.set(to, { id, timer: setInterval(() => this.frame(id, to, true), TYPING_REPEAT_MS) });
    this.frame(id, to, true);
  }

  /** Stops a spell of typing with one `false`; nothing if the user was not typing there. */
  stop(to: string): void {
    const spell = this.active.get(to);
    if (!spell) return;
    clearInterval(spell.timer);
    this.active.delete(to);
    this.frame(spell.id, to, false);
  }

  /** Ends a spell without a `false`: the user left the group, where a `false` would only be refused. */
  drop(to: string): void {
    clearInterval(this.active.get(to)?.timer);
    this.active.delete(to);
  }

  /**
   * The client closed: no more repeats. No `false` either: the server drops
   * frames that arrive together with the socket's close, so the peers' 6 s
   * expiry ends the indicator.
   */
  clear(): void {
    for (const to of [...this.active.keys()]) this.drop(to);
  }

  /**
   * An ERROR for frame `ref`: if it was a typing frame, that spell ends. Not
   * a member of the group, or over the send rate: repeating it cannot help,
   * and the app's next typing(to, true) starts a new spell.
   */
  refused(ref: string): boolean {
    for (const [to, spell] of this.active) {
      if (spell.id !== ref) continue;
      clearInterval(spell.timer);
      this.active.delete(to);
      return true;
    }
    return false;
  }

  private frame(id: string, to: string, typing: boolean): void {
    const frame: OutgoingTyping = { id, type: "EVENT_MSG", content: "TYPING", to, message: typing };
    this.write(JSON.stringify(frame));
  }
}

/** Who is typing to this user: a change on the first `true`, and on a `false`, their message, or 6 s of silence. */
export class TypingWatch {
  /** [conversation, user] as JSON → the timer that ends the spell. */
  private readonly typing = new Map<string, Timer>();
  private readonly me: () => string | null;
  private readonly changed: (change: TypingChange) => void;

  constructor(me: () => string | null, changed: (change: TypingChange) => void) {
    this.me = me;
    this.changed = changed;
  }

  frame(frame: TypingFrame): void {
    const me = this.me();
    if (me === null) return;
    const conversation = conversationOf(me, frame);
    if (!frame.message) {
      this.end(conversation, frame.from);
      return;
    }
    const key = JSON.stringify([conversation, frame.from]);
    const running = this.typing.get(key);
    clearTimeout(running);
    this.typing.set(
      key,
      setTimeout(() => this.end(conversation, frame.from), TYPING_EXPIRY_MS),
    );
    if (running === undefined) this.changed({ conversation, user: frame.from, typing: true });
  }

  /** A message from someone ends their typing in that conversation: it is what they were typing. */
  message(frame: UserMsgFrame): void {
    const me = this.me();
    if (me !== null) this.end(conversationOf(me, frame), frame.from);
  }

  /** The client closed: no change is reported any more. */
  stop(): void {
    for (const timer of this.typing.values()) clearTimeout(timer);
    this.typing.clear();
  }

  private end(conversation: string, user: string): void {
    const key = JSON.stringify([conversation, user]);
    const timer = this.typing.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.typing.delete(key);
    this.changed({ conversation, user, typing: false });
  }
}
