/**
 * The client's side of the wire: the frames it sends, and a light check of
 * the frames it receives. Server frame types come from the server's own
 * protocol module, so the two cannot drift apart.
 */
import { isGroupId, type ReceiptContent, type ServerFrame, type UserContent } from "../protocol/frames.ts";

const GROUP_EVENTS: ReadonlySet<unknown> = new Set(["created", "member_added", "member_removed", "member_left", "role_changed", "renamed"]);

/**
 * A USER_MSG as a client sends it (PROTOCOL.md, Sending a message; Replies,
 * edits, deletes and reactions). `from` is never sent: the server sets it.
 * A MESSAGE_DELETE has no `message`.
 */
export interface OutgoingUserMsg {
  id: string;
  to: string;
  type: "USER_MSG";
  content: UserContent;
  message?: unknown;
  /** A reply: the server id of the message it answers. */
  replyTo?: string;
  /** An edit, delete or reaction: the server id of the message it changes. */
  ref?: string;
}

/** A delivery or read receipt as a client sends it (PROTOCOL.md, Receipts). */
export interface OutgoingReceipt {
  type: "ACK_MSG";
  content: ReceiptContent;
  message: string;
}

/** "Typing…" (or stopped) in the conversation `to`, a user or a group (PROTOCOL.md, Ephemeral events). `id` names the frame in an ERROR's `ref`. */
export interface OutgoingTyping {
  id: string;
  type: "EVENT_MSG";
  content: "TYPING";
  to: string;
  message: boolean;
}

/** The users whose presence this socket wants, replacing its earlier list (at most 100). */
export interface OutgoingPresenceSubscribe {
  type: "EVENT_MSG";
  content: "PRESENCE_SUBSCRIBE";
  message: string[];
}

/**
 * The conversation a frame belongs to (PROTOCOL.md, Conversations): the
 * group it went to, else the other party. Messages and typing alike.
 */
export function conversationOf(me: string, frame: { from: string; to: string }): string {
  if (isGroupId(frame.to)) return frame.to;
  return frame.from === me ? frame.to : frame.from;
}

type Fields = Record<string, unknown>;

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isPositive = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
const isLimits = (v: unknown): boolean =>
  isObject(v) && isPositive(v.maxMessageBytes) && isPositive(v.ratePerSecond) && isPositive(v.rateBurst);

/**
 * Parses one text frame from the server. Returns null for anything this
 * client does not know (a newer server's frame), so it is skipped, not fatal.
 * Checks only what the client relies on: the discriminants, ids and `seq`.
 */
export function parseServerFrame(text: string): ServerFrame | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || !isString(v.id)) return null;
  const ok = (() => {
    switch (`${v.type}/${v.content}`) {
      case "USER_MSG/TEXT_MESSAGE":
      case "USER_MSG/FILE_MESSAGE":
        return isString(v.from) && isString(v.to) && isSeq(v.seq) && "message" in v && (v.replyTo === undefined || isString(v.replyTo));
      case "USER_MSG/MESSAGE_EDIT":
      case "USER_MSG/MESSAGE_DELETE":
        return isString(v.from) && isString(v.to) && isSeq(v.seq) && isString(v.ref);
      case "USER_MSG/REACTION":
        return (
          isString(v.from) &&
          isString(v.to) &&
          isSeq(v.seq) &&
          isString(v.ref) &&
          isObject(v.message) &&
          isString(v.message.key) &&
          typeof v.message.on === "boolean"
        );
      case "SYSTEM_MSG/SETTINGS_CHANGED":
        return isObject(v.message) && isSeq(v.seq);
      case "ACK_MSG/MESSAGE_RECEIVED":
        return isString(v.message);
      case "ACK_MSG/MESSAGE_DELIVERED":
      case "ACK_MSG/MESSAGE_READ":
        return isString(v.from) && isString(v.to) && isString(v.message) && (v.seq === undefined || isSeq(v.seq));
      case "ACK_MSG/TOKEN_REFRESHED":
        return isObject(v.message);
      case "SYSTEM_MSG/CONNECTION_ID":
        // `limits` is v3; a server before it sends none, and the client then does not pace.
        return (
          isObject(v.message) &&
          isString(v.message.user) &&
          Number.isSafeInteger(v.message.seq) &&
          (v.message.limits === undefined || isLimits(v.message.limits))
        );
      case "SYSTEM_MSG/ERROR":
        // A late group refusal is logged, so it carries a seq.
        return isObject(v.message) && isString(v.message.code) && (v.seq === undefined || isSeq(v.seq));
      case "SYSTEM_MSG/NOTICE":
        return isString(v.to) && "message" in v && isSeq(v.seq);
      case "SYSTEM_MSG/GROUP_EVENT":
        return isString(v.from) && isString(v.to) && isObject(v.message) && GROUP_EVENTS.has(v.message.event) && isSeq(v.seq);
      case "EVENT_MSG/TYPING":
        return isString(v.from) && isString(v.to) && typeof v.message === "boolean";
      case "EVENT_MSG/PRESENCE":
        return (
          isString(v.from) &&
          isObject(v.message) &&
          (v.message.status === "online" || v.message.status === "offline") &&
          (v.message.lastSeen === null || isString(v.message.lastSeen))
        );
      default:
        return false;
    }
  })();
  return ok ? (v as unknown as ServerFrame) : null;
}
