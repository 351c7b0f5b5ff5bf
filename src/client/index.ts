/**
 * The LunarLoom client: `import { LunarLoomClient } from "lunarloom-edge/client"`.
 * Runs in browsers and Node 22+ (global WebSocket and fetch).
 */

export type {
  ChangeFrame,
  DeleteFrame,
  EditFrame,
  ErrorCode,
  GroupEvent,
  GroupEventFrame,
  GroupEventName,
  GroupRole,
  MessageContent,
  MessageNow,
  NoticeFrame,
  PresenceFrame,
  PresenceStatus,
  Reaction,
  ReactionCount,
  ReactionFrame,
  ReceiptContent,
  ReceiptFrame,
  SettingsChange,
  SettingsChangedFrame,
  TypingFrame,
  UserContent,
  UserMsgFrame,
} from "../protocol/frames.ts";
export {
  ApiError,
  type Conversation,
  type ConversationPage,
  type ConversationsQuery,
  type DirectConversation,
  type FetchLike,
  type GroupConversation,
  type HistoryFrame,
  type HistoryPage,
  type HistoryQuery,
  type LoggedFrame,
  type MessageStatus,
  type SystemConversation,
} from "./api.ts";
export type { BackoffOptions } from "./backoff.ts";
export { LunarLoomClient } from "./client.ts";
export type { HeartbeatOptions, NetworkSignal, TokenSource, WebSocketConstructor, WebSocketLike } from "./connection.ts";
export type { ClientEvents, ConnectionState, Refusal, ServerError } from "./events.ts";
export { type FilePayload, fileBytes, filePayload, isFilePayload, MAX_FILE_BYTES } from "./file.ts";
export type { FileRef, StoredFile, UploadOptions, UploadProgress } from "./files.ts";
export {
  conversationOf,
  type OutgoingPresenceSubscribe,
  type OutgoingReceipt,
  type OutgoingTyping,
  type OutgoingUserMsg,
} from "./frames.ts";
export type { Group, GroupMember, NewGroup } from "./groups.ts";
export type { ChangeOptions, SendOptions } from "./lifecycle.ts";
export type { ClientOptions, ConnectOptions } from "./options.ts";
export { type Ack, type Outgoing, SendError } from "./outbox.ts";
export { MAX_WATCHED, type PresenceChange } from "./presence.ts";
export type { Blocked, ConversationSettings, NewReport, ReportReason } from "./safety.ts";
export type { TypingChange } from "./typing.ts";
export type { UnreadChange } from "./unread.ts";
