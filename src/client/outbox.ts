/**
 * Messages sent but not yet acknowledged by the server. Each keeps its
 * client id and its exact frame text, so every resend is the same frame and
 * the server's dedupe by client id turns any number of resends into one
 * message (PROTOCOL.md, Idempotent resend).
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

interface Entry {
  outgoing: Outgoing;
  text: string;
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
  private readonly maxMessageBytes: number;

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
    const outgoing: Outgoing = { id: frame.id, to: frame.to, content: frame.content, message: frame.message, acked };
    const text = JSON.stringify(frame);
    const bytes = text.length * 3 <= this.maxMessageBytes ? 0 : encoder.encode(text).length;
    if (bytes > this.maxMessageBytes) {
      reject(new SendError("TOO_LARGE", `frame is ${bytes} bytes, the limit is ${this.maxMessageBytes}`, frame.id));
      return { outgoing, text: null };
    }
    this.entries.set(frame.id, { outgoing, text, resolve, reject });
    return { outgoing, text };
  }
  /** Frame texts of every unacknowledged message, oldest first. */
  texts(): string[] {
    return [...this.entries.values()].map((e) => e.text);
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
    this.entries.delete(ack.clientId);
    entry.resolve(ack);
    return ack;
  }

  /** Gives up on a message the server refused for good. */
  fail(clientId: string, code: ErrorCode, reason: string, serverId?: string): boolean {
    const entry = this.entries.get(clientId);
    if (!entry) return false;
    this.entries.delete(clientId);
    entry.reject(new SendError(code, reason, clientId, serverId));
    return true;
  }

  serverId(clientId: string): string | undefined {
    return this.serverIds.get(clientId);
  }
}
