/**
 * The LunarLoom wire protocol (PROTOCOL.md): every frame's type. Server
 * frames are what clients receive; client frames are what the parser
 * (parse.ts) turns a client's text into. Types only: the one place that
 * builds server frames is build.ts.
 */

/** What a conversation's history shows: messages. */
export type MessageContent = "TEXT_MESSAGE" | "FILE_MESSAGE";
/** What changes an earlier message, named by `ref` (PROTOCOL.md, Replies, edits, deletes and reactions). */
export type ChangeContent = "MESSAGE_EDIT" | "MESSAGE_DELETE" | "REACTION";
export type UserContent = MessageContent | ChangeContent;
export type ReceiptContent = "MESSAGE_DELIVERED" | "MESSAGE_READ";
export type ErrorCode =
  | "BAD_JSON"
  | "BAD_MESSAGE"
  | "UNKNOWN_TYPE"
  | "TOO_LARGE"
  | "RATE_LIMITED"
  | "UNKNOWN_MESSAGE"
  | "FORBIDDEN"
  | "BAD_TOKEN"
  | "INTERNAL";

/** Identities that start with this name groups; `system` is the server's own. */
export const GROUP_PREFIX = "group:";
export const SYSTEM = "system";

// ---- server → client frames ----------------------------------------------

interface UserMsgBase {
  id: string;
  from: string;
  to: string;
  type: "USER_MSG";
  time: string;
  seq: number;
}

/**
 * A message as every socket of the recipient (and the sender's others) sees
 * it. One deleted for everyone has `message: null`.
 */
export interface UserMsgFrame extends UserMsgBase {
  content: MessageContent;
  message: unknown;
  /** A reply: the server id of the message it answers. */
  replyTo?: string;
}

/** An edit of the message `ref`: its new payload. */
export interface EditFrame extends UserMsgBase {
  content: "MESSAGE_EDIT";
  ref: string;
  /** null once the message was deleted for everyone. */
  message: unknown;
}

/** The message `ref` was deleted for everyone. */
export interface DeleteFrame extends UserMsgBase {
  content: "MESSAGE_DELETE";
  ref: string;
}

/** `from` put a reaction on the message `ref`, or took it back. */
export interface ReactionFrame extends UserMsgBase {
  content: "REACTION";
  ref: string;
  message: Reaction;
}

export type ChangeFrame = EditFrame | DeleteFrame | ReactionFrame;

/** A REACTION's payload. */
export interface Reaction {
  key: string;
  on: boolean;
}

/** One key's reactions on a message, as history shows them: how many, and whether the user's own is among them. */
export interface ReactionCount {
  key: string;
  count: number;
  me: boolean;
}

/** A message as history and the list's `last` show it: as it is now (PROTOCOL.md, Replies, edits, deletes and reactions). */
export interface MessageNow extends UserMsgFrame {
  /** When it was last edited; `message` is then the latest payload. */
  edited?: string;
  /** When it was deleted for everyone; `message` is then null. */
  deleted?: string;
  /** In order of first use; absent when there are none. */
  reactions?: ReactionCount[];
}

/** The server's answer to a USER_MSG: `id` is the client's id, `message` the server's. */
export interface ReceivedAckFrame {
  id: string;
  from: string;
  type: "ACK_MSG";
  time: string;
  content: "MESSAGE_RECEIVED";
  message: string;
}

/**
 * A delivery or read receipt, as the original sender (and the recipient's
 * other sockets) sees it. Receipts for group messages are live only: no `seq`.
 */
export interface ReceiptFrame {
  id: string;
  from: string;
  to: string;
  type: "ACK_MSG";
  time: string;
  content: ReceiptContent;
  message: string;
  seq?: number;
}

/** The answer to a TOKEN_REFRESH: `expires` is the new token's expiry, or null if it has none. */
export interface TokenRefreshedFrame {
  id: string;
  from: "system";
  type: "ACK_MSG";
  time: string;
  content: "TOKEN_REFRESHED";
  message: { expires: string | null };
}

/**
 * A change the user made to their own settings, in their own log so every
 * device learns it live and on resume (PROTOCOL.md, Blocking, reports and
 * conversation settings). Belongs to no conversation.
 */
export interface SettingsChangedFrame {
  id: string;
  from: "system";
  to: string;
  type: "SYSTEM_MSG";
  time: string;
  content: "SETTINGS_CHANGED";
  message: SettingsChange;
  seq: number;
}

export type SettingsChange =
  | { block: { user: string; on: boolean } }
  | { conversation: string; mutedUntil?: string | null; pinned?: boolean; archived?: boolean }
  | { hidden: { conversation: string; message: string } };

export interface ConnectionIdFrame {
  id: string;
  from: "system";
  to: string;
  type: "SYSTEM_MSG";
  time: string;
  content: "CONNECTION_ID";
  message: { connectionId: string; user: string; seq: number; limits: ConnectionLimits };
}

/** What a client should pace itself by (v3): the server's frame size and per-user send rate. */
export interface ConnectionLimits {
  maxMessageBytes: number;
  ratePerSecond: number;
  rateBurst: number;
}

export interface ErrorFrame {
  id: string;
  from: "system";
  type: "SYSTEM_MSG";
  time: string;
  content: "ERROR";
  /** `id` is set on a group message refused after its ack: the server id it was acked with. */
  message: { code: ErrorCode; reason: string; ref?: string; id?: string };
  /** Set when the error was logged (a late group refusal), so it is replayed like any logged frame. */
  seq?: number;
}

/** The app's backend speaking as the server (PROTOCOL.md, Server API). */
export interface NoticeFrame {
  id: string;
  from: "system";
  to: string;
  type: "SYSTEM_MSG";
  time: string;
  content: "NOTICE";
  message: unknown;
  seq: number;
}

export type GroupRole = "admin" | "member";
export type GroupEventName = "created" | "member_added" | "member_removed" | "member_left" | "role_changed" | "renamed";

export interface GroupEvent {
  event: GroupEventName;
  user?: string;
  role?: GroupRole;
  name?: string;
  /** `created`: the first members; `member_added`: the members a batch added (one added has `user` instead). */
  members?: { user: string; role: GroupRole }[];
}

/** A change to a group, in the group's order, in every member's log. */
export interface GroupEventFrame {
  id: string;
  from: string;
  to: string;
  type: "SYSTEM_MSG";
  time: string;
  content: "GROUP_EVENT";
  message: GroupEvent;
  seq: number;
}

export interface TypingFrame {
  id: string;
  from: string;
  to: string;
  type: "EVENT_MSG";
  time: string;
  content: "TYPING";
  message: boolean;
}

export interface PresenceStatus {
  status: "online" | "offline";
  lastSeen: string | null;
}

export interface PresenceFrame {
  id: string;
  from: string;
  to: string;
  type: "EVENT_MSG";
  time: string;
  content: "PRESENCE";
  message: PresenceStatus;
}

export type ServerFrame =
  | UserMsgFrame
  | EditFrame
  | DeleteFrame
  | ReactionFrame
  | ReceivedAckFrame
  | ReceiptFrame
  | TokenRefreshedFrame
  | ConnectionIdFrame
  | ErrorFrame
  | NoticeFrame
  | SettingsChangedFrame
  | GroupEventFrame
  | TypingFrame
  | PresenceFrame;

// ---- client → server frames ----------------------------------------------

interface SendBase {
  type: "USER_MSG";
  id: string;
  to: string;
}

/** A validated message. `rawMessage` is the payload's JSON text exactly as the client sent it. */
export interface MessageSend extends SendBase {
  content: MessageContent;
  rawMessage: string;
  replyTo?: string;
}

export interface EditSend extends SendBase {
  content: "MESSAGE_EDIT";
  ref: string;
  rawMessage: string;
}

export interface DeleteSend extends SendBase {
  content: "MESSAGE_DELETE";
  ref: string;
}

export interface ReactionSend extends SendBase {
  content: "REACTION";
  ref: string;
  reaction: Reaction;
}

/** A validated USER_MSG: a message, or a change to an earlier one. */
export type SendFrame = MessageSend | EditSend | DeleteSend | ReactionSend;

export interface ReceiptRequest {
  type: "ACK_MSG";
  id?: string;
  content: ReceiptContent;
  messageId: string;
}

export interface TokenRefreshRequest {
  type: "SYSTEM_MSG";
  content: "TOKEN_REFRESH";
  id?: string;
  token: string;
}

export interface TypingRequest {
  type: "EVENT_MSG";
  content: "TYPING";
  id?: string;
  to: string;
  typing: boolean;
}

export interface PresenceSubscribeRequest {
  type: "EVENT_MSG";
  content: "PRESENCE_SUBSCRIBE";
  id?: string;
  users: string[];
}

export type ClientFrame = SendFrame | ReceiptRequest | TokenRefreshRequest | TypingRequest | PresenceSubscribeRequest;

export function isGroupId(id: string): boolean {
  return id.startsWith(GROUP_PREFIX);
}
