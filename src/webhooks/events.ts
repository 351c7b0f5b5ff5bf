/**
 * Webhook events (PROTOCOL.md, Webhooks): built by the user's object in the
 * turn that logs the frame, and sent to the queue. The body is JSON text,
 * with the payload spliced in as it was sent when WEBHOOK_INCLUDE_MESSAGE is
 * on, so what the receiver verifies is byte for byte what was signed.
 */
import type { Envelope } from "../envelope.ts";
import { isoSecond } from "../protocol/build.ts";
import { scanObject } from "../protocol/parse.ts";

/** What goes through the queue: the event's id (the receiver's dedupe key) and its body. */
export interface QueuedEvent {
  id: string;
  body: string;
  /**
   * Set when the body carries a payload (last, after every other field): whose
   * log holds the message, so the consumer can erase it if the message was
   * deleted for everyone before the POST (DESIGN.md invariant 6).
   */
  payload?: { user: string; message: string };
}

const str = JSON.stringify;

/**
 * A stored USER_MSG is the server's own text (userMsgText): `content` comes
 * before the payload, and no string value can hold these unescaped quotes,
 * so the first match is the field, found without parsing the payload.
 */
const CONTENT = /"content":"(TEXT_MESSAGE|FILE_MESSAGE)","message":/;

/** `message.offline`: a message or notice was logged for `user`, who has no open socket: the hook for a push. */
export function offlineEvent(user: string, conversation: string, e: Envelope, includeMessage: boolean, now: number): QueuedEvent {
  const id = crypto.randomUUID();
  const content = e.type === "NOTICE" ? "NOTICE" : (CONTENT.exec(e.frame)?.[1] ?? "TEXT_MESSAGE");
  const parts = [
    `"id":${str(id)}`,
    `"type":"message.offline"`,
    `"time":${str(isoSecond(now))}`,
    `"user":${str(user)}`,
    `"conversation":${str(conversation)}`,
    `"from":${str(e.sender)}`,
    `"messageId":${str(e.id)}`,
    `"content":${str(content)}`,
  ];
  if (includeMessage) {
    const raw = scanObject(e.frame).message;
    if (raw !== undefined) {
      parts.push(`"message":${raw}`);
      return { id, body: `{${parts.join(",")}}`, payload: { user, message: e.id } };
    }
  }
  return { id, body: `{${parts.join(",")}}` };
}

/** `report.created`: a user reported messages or a user; the report as the server API lists it, evidence included. */
export function reportEvent(report: string, now: number): QueuedEvent {
  const id = crypto.randomUUID();
  return { id, body: `{"id":${str(id)},"type":"report.created","time":${str(isoSecond(now))},"report":${report}}` };
}
