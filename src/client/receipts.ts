/**
 * Receipts the app asks for (markDelivered, markRead): each sent once, now
 * if a socket is open, else on the next connection. Never resent after
 * that: the server keeps receipts as watermarks, so one lost on a drop is
 * overtaken by the next.
 */
import type { ReceiptContent } from "../protocol/frames.ts";
import type { OutgoingReceipt } from "./frames.ts";

export class Receipts {
  /** Asked for while no socket was open. */
  private queue: OutgoingReceipt[] = [];
  /** Already asked for: repeating one is harmless but costs rate budget. */
  private readonly asked = new Set<string>();

  /** Writes to the open socket; false if there is none. */
  private readonly send: (text: string) => boolean;

  constructor(send: (text: string) => boolean) {
    this.send = send;
  }

  ask(content: ReceiptContent, messageId: string): void {
    const key = `${content} ${messageId}`;
    if (this.asked.has(key)) return;
    this.asked.add(key);
    const frame: OutgoingReceipt = { type: "ACK_MSG", content, message: messageId };
    if (!this.send(JSON.stringify(frame))) this.queue.push(frame);
  }

  /** A connection opened: what waited goes out. */
  opened(): void {
    const waiting = this.queue;
    this.queue = [];
    for (const frame of waiting) if (!this.send(JSON.stringify(frame))) this.queue.push(frame);
  }
}
