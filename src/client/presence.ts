/**
 * Presence (PROTOCOL.md, Ephemeral events): the users the app watches, and
 * their PRESENCE frames as changes. A subscription belongs to one socket and
 * ends with it, so the list is sent again on every connection; the server
 * answers each user's status at once and then on every change.
 */
import type { PresenceFrame, PresenceStatus } from "../protocol/frames.ts";
import type { OutgoingPresenceSubscribe } from "./frames.ts";

/** The server's limit per subscription. */
export const MAX_WATCHED = 100;

/** A watched user's status: `online` while they have an open socket, else `offline` since `lastSeen` (null if never seen). */
export interface PresenceChange extends PresenceStatus {
  user: string;
}

export class PresenceWatch {
  private users = new Set<string>();
  /** Writes a frame if a socket is open; false if none is (the next connection sends the list). */
  private readonly write: (text: string) => boolean;
  private readonly changed: (change: PresenceChange) => void;

  constructor(write: (text: string) => boolean, changed: (change: PresenceChange) => void) {
    this.write = write;
    this.changed = changed;
  }

  /** Replaces the watched list, and tells the open socket at once. */
  watch(users: Iterable<string>): void {
    const next = new Set(users);
    if (next.size > MAX_WATCHED) throw new RangeError(`watchPresence: at most ${MAX_WATCHED} users (got ${next.size})`);
    this.users = next;
    this.subscribe();
  }

  /** A new socket is open: it watches nobody until told. */
  opened(): void {
    if (this.users.size > 0) this.subscribe();
  }

  frame(frame: PresenceFrame): void {
    // A status in flight when the app replaced its list may be for someone it no longer watches.
    if (!this.users.has(frame.from)) return;
    this.changed({ user: frame.from, status: frame.message.status, lastSeen: frame.message.lastSeen });
  }

  private subscribe(): void {
    const frame: OutgoingPresenceSubscribe = { type: "EVENT_MSG", content: "PRESENCE_SUBSCRIBE", message: [...this.users] };
    this.write(JSON.stringify(frame));
  }
}
