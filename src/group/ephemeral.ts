/**
 * What a large group forwards live (PROTOCOL.md, Large groups): in a group
 * over LARGE_GROUP members, each typist's `true` goes out at most once per
 * 3 s (and a `false` only after a `true` went), and a message sender gets at
 * most one live receipt per member per second: a receipt that comes sooner
 * waits and is replaced by a later one from the same member, and the alarm
 * sends the newest when its second is up. Both are ephemeral: held in
 * memory only (an evicted object forgets them; the watermarks are stored).
 */

/** Above this many members typing and live receipts are thinned. */
export const LARGE_GROUP = 100;
const TYPING_EVERY_MS = 3000;
const RECEIPT_EVERY_MS = 1000;

interface Held {
  sender: string;
  frame: string;
  at: number;
}

export class Ephemeral {
  /** When each typist's last `true` went out (absent: none since its last `false`). */
  private readonly typing = new Map<string, number>();
  /** When the last receipt from member to sender went out, by `member\0sender`. */
  private readonly sent = new Map<string, number>();
  /** The newest receipt waiting for its second, by `member\0sender`. */
  private readonly held = new Map<string, Held>();

  /** Whether a TYPING from `typist` goes out now. */
  typingPasses(typist: string, typing: boolean, members: number, now: number): boolean {
    if (members <= LARGE_GROUP) return true;
    const last = this.typing.get(typist);
    if (!typing) return this.typing.delete(typist);
    if (last !== undefined && now - last < TYPING_EVERY_MS) return false;
    this.typing.set(typist, now);
    return true;
  }

  /**
   * The receipts to send now, by sender; the others are held for `due()`.
   * `receipts`: [member, sender, frame] in the order they were taken.
   */
  receipts(receipts: [string, string, string][], members: number, now: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [member, sender, frame] of receipts) {
      const key = `${member}\0${sender}`;
      const last = this.sent.get(key);
      if (members > LARGE_GROUP && last !== undefined && now - last < RECEIPT_EVERY_MS) {
        this.held.set(key, { sender, frame, at: last + RECEIPT_EVERY_MS });
        continue;
      }
      if (members > LARGE_GROUP) this.sent.set(key, now);
      out.set(sender, [...(out.get(sender) ?? []), frame]);
    }
    return out;
  }

  /** When the earliest held receipt may go, or null. */
  due(): number | null {
    let at: number | null = null;
    for (const h of this.held.values()) if (at === null || h.at < at) at = h.at;
    return at;
  }

  /** The held receipts whose second is up, by sender; forgets what no longer limits anything. */
  release(now: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [key, h] of this.held) {
      if (h.at > now) continue;
      this.held.delete(key);
      this.sent.set(key, now);
      out.set(h.sender, [...(out.get(h.sender) ?? []), h.frame]);
    }
    for (const [key, at] of this.sent) if (now - at >= RECEIPT_EVERY_MS && !this.held.has(key)) this.sent.delete(key);
    return out;
  }
}
