/**
 * Messages sent but not yet acknowledged by the server. Each keeps its
 * client id and its exact frame text, so every resend is the same frame and
 * the server's dedupe by client id turns any number of resends into one
 * message (PROTOCOL.md, Idempotent resend).
 *
 * Messages are written in the order sent, and after a refusal written again
 * from the refused one, in order, once the refusals of those written after
 * it have come back: the server holds every later message on the socket
 * back until the refused one comes again (PROTOCOL.md, Order under refusal),
 * so the stored order is the order sent, and each refusal costs one resend.
 */
import type { ErrorCode, UserContent } from "../protocol/frames.ts";
import type { OutgoingUserMsg } from "./frames.ts";

/** The server's MESSAGE_RECEIVED: the message is durably stored under `serverId`. */
export interface Ack {
  clientId: string;
  serverId: string;
  /** The server's time for the message, `YYYY-MM-DDTHH:MM:SSZ`. */
  time: string;
}

/** A message handed to the client. `acked` settles once: resolved by the ack, or rejected if the server refuses the message for good. */
export interface Outgoing {
  readonly id: string;
  readonly to: string;
  readonly content: UserContent;
  readonly message: unknown;
  /** A reply's original (its server id). */
  readonly replyTo?: string;
  readonly acked: Promise<Ack>;
}

/** The server refused a message and resending it cannot help (e.g. TOO_LARGE, BAD_MESSAGE). */
export class SendError extends Error {
  readonly code: ErrorCode;
  readonly clientId: string;
  /** Set when the server had stored the message before refusing it: a group message whose sender was removed on its way. */
  readonly serverId: string | undefined;

  constructor(code: ErrorCode, reason: string, clientId: string, serverId?: string) {
    super(`${code}: ${reason}`);
    this.name = "SendError";
    this.code = code;
    this.clientId = clientId;
    this.serverId = serverId;
  }
}

/**
 * `waiting`: to be written on the current socket. `written`: on it, answer
 * pending. `held`: written after a message that was refused, so its own
 * refusal is on its way; written again once that has come.
 */
type State = "waiting" | "written" | "held";

interface Entry {
  outgoing: Outgoing;
  text: string;
  state: State;
  resolve(ack: Ack): void;
  reject(err: SendError): void;
}

const encoder = new TextEncoder();
/** How many acks `serverId()` remembers: far more than any chat view shows. */
export const SERVER_IDS_KEPT = 10_000;

export class Outbox {
  /** Insertion order is send order: resends go out in the order the app sent. */
  private readonly entries = new Map<string, Entry>();
  /**
   * Client id → server id for the latest acks (the docs' `updateMessageId`):
   * bounded, so a tab left open for weeks does not grow without end.
   */
  private readonly serverIds = new Map<string, string>();

  /** The server's frame limit: a bigger frame is refused here, before it can sit in the outbox forever. */
  private maxMessageBytes: number;
  /** Entries in state `held`: while any is, nothing is written (it would overtake them). */
  private held = 0;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /**
   * Adds a message. `text` is the frame to write now, or null when there is
   * nothing new to write: the id is already pending, or the frame is too large.
   */
  add(frame: OutgoingUserMsg): { outgoing: Outgoing; text: string | null } {
    const existing = this.entries.get(frame.id);
    if (existing) return { outgoing: existing.outgoing, text: null };
    const { promise: acked, resolve, reject } = Promise.withResolvers<Ack>();
    // An app that never looks at `acked` must not crash on an unhandled rejection;
    // an app that awaits it still sees the error.
    acked.catch(() => {});
    const { id, to, content, message, replyTo } = frame;
    const outgoing: Outgoing = { id, to, content, message, ...(replyTo === undefined ? {} : { replyTo }), acked };
    const text = JSON.stringify(frame);
    const bytes = text.length * 3 <= this.maxMessageBytes ? 0 : encoder.encode(text).length;
    if (bytes > this.maxMessageBytes) {
      reject(new SendError("TOO_LARGE", `frame is ${bytes} bytes, the limit is ${this.maxMessageBytes}`, frame.id));
      return { outgoing, text: null };
    }
    this.entries.set(frame.id, { outgoing, text, state: "waiting", resolve, reject });
    return { outgoing, text };
  }

  /** The server announced its frame limit (CONNECTION_ID): later messages are checked against it. */
  limit(maxMessageBytes: number): void {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** A new socket: every pending message is written on it again, in order. */
  opened(): void {
    for (const entry of this.entries.values()) entry.state = "waiting";
    this.held = 0;
  }

  /**
   * The next message to write, now counted as written; null if none waits,
   * or refusals of messages already written are still to come.
   */
  next(): string | null {
    if (this.held > 0) return null;
    for (const entry of this.entries.values()) {
      if (entry.state !== "waiting") continue;
      entry.state = "written";
      return entry.text;
    }
    return null;
  }

  /**
   * The server refused a pending message for now (RATE_LIMITED, INTERNAL):
   * it waits to be written again, and so does every message written after
   * it, whose refusal follows. Returns `first` for the refusal that starts a
   * resend, `held` for a refusal that was expected, and null if `clientId`
   * is no pending message (the refusal was for another frame).
   */
  refused(clientId: string): "first" | "held" | null {
    const entry = this.entries.get(clientId);
    if (!entry || entry.state === "waiting") return null;
    if (entry.state === "held") {
      this.setState(entry, "waiting");
      return "held";
    }
    let after = false;
    for (const e of this.entries.values()) {
      if (e === entry) after = true;
      else if (after && e.state === "written") this.setState(e, "held");
    }
    entry.state = "waiting";
    return "first";
  }

  get size(): number {
    return this.entries.size;
  }

  /** Settles a pending message. Null for an ack of nothing pending (the second ack after a resend). */
  ack(ack: Ack): Ack | null {
    this.serverIds.set(ack.clientId, ack.serverId);
    if (this.serverIds.size > SERVER_IDS_KEPT) this.serverIds.delete(this.serverIds.keys().next().value!);
    const entry = this.entries.get(ack.clientId);
    if (!entry) return null;
    this.remove(entry);
    entry.resolve(ack);
    return ack;
  }

  /** Gives up on a message the server refused for good. */
  fail(clientId: string, code: ErrorCode, reason: string, serverId?: string): boolean {
    const entry = this.entries.get(clientId);
    if (!entry) return false;
    this.remove(entry);
    entry.reject(new SendError(code, reason, clientId, serverId));
    return true;
  }

  serverId(clientId: string): string | undefined {
    return this.serverIds.get(clientId);
  }

  private remove(entry: Entry): void {
    this.setState(entry, "waiting");
    this.entries.delete(entry.outgoing.id);
  }

  private setState(entry: Entry, state: State): void {
    if (entry.state === "held") this.held--;
    if (state === "held") this.held++;
    entry.state = state;
  }
}
