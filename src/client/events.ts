/** What a LunarLoomClient tells the app: its connection's state, and the events it emits. */
import type {
  DeleteFrame,
  EditFrame,
  ErrorCode,
  ErrorFrame,
  GroupEventFrame,
  NoticeFrame,
  ReactionFrame,
  ReceiptFrame,
  SettingsChangedFrame,
  UserMsgFrame,
} from "../protocol/frames.ts";
import type { Ack } from "./outbox.ts";
import type { PresenceChange } from "./presence.ts";
import type { TypingChange } from "./typing.ts";
import type { UnreadChange } from "./unread.ts";

export type ConnectionState =
  | { status: "idle" }
  | { status: "connecting"; attempt: number }
  | { status: "open"; user: string; connectionId: string }
  | { status: "offline"; attempt: number; retryInMs: number; reason: string }
  | { status: "closed" };

/** An ERROR frame's body: `{ code, reason, ref?, id? }`. */
export type ServerError = ErrorFrame["message"];

/**
 * A message the server acked and then refused: a group message that reached
 * the group after its sender had been removed. It reached nobody.
 */
export interface Refusal {
  /** The client id it was sent with (absent if it was not sent with one this client knows, e.g. through the server API). */
  clientId: string | undefined;
  /** The server id it was acked with. */
  serverId: string;
  code: ErrorCode;
  reason: string;
}

export interface ClientEvents {
  state: ConnectionState;
  /**
   * Every USER_MSG in the user's log, once: messages to the user, and copies
   * of messages the user sent (from other devices, or from this client when a
   * resume replays them; match those to sends with `ack`'s serverId).
   */
  message: UserMsgFrame;
  /** A message (`ref`) was edited: `message` is its new payload. Once per edit, like a message; the user's own from other devices too. */
  edit: EditFrame;
  /** A message (`ref`) was deleted for everyone: show it as deleted, and forget its payload. */
  delete: DeleteFrame;
  /** A reaction (`message.key`) was put on a message (`ref`) by `from`, or taken back (`message.on` false). */
  reaction: ReactionFrame;
  /** The user changed their own settings, on this device or another (e.g. `{hidden: {conversation, message}}`: deleted for me). */
  settings: SettingsChangedFrame;
  /** A message sent through this client is durably stored; fires once per client id. */
  ack: Ack;
  /**
   * MESSAGE_DELIVERED / MESSAGE_READ: to the user for messages they sent, or a
   * copy of the user's own from another device. For a group message, `from` is
   * the member who got or read it; those come live only, with no `seq`.
   */
  receipt: ReceiptFrame;
  /** A change to a group the user is in (or was: their own removal is their last), in the group's order, once. */
  groupEvent: GroupEventFrame;
  /** A NOTICE from the app's backend (the `system` conversation, or a group's), in the log's order, once. */
  notice: NoticeFrame;
  /** Every ERROR frame. A send the server refuses for good also rejects that send's `acked`. */
  error: ServerError;
  /** A message acked and then refused (see Refusal); if its `acked` had not settled yet, it rejects too. */
  refused: Refusal;
  /** The connection's backlog (replay or offline queue) has fully arrived; `seq` is where it ended. */
  synced: { seq: number };
  /**
   * Unread counts changed: the total, and each conversation whose count
   * changed. Starts with the first `conversations()` (every listed
   * conversation), then follows messages and reads, on this device and others.
   */
  unread: UnreadChange;
  /**
   * Someone started or stopped typing in a conversation: `true` on their
   * first TYPING, `false` on their `false`, their message, or 6 s after
   * their last `true` (a tab that closed mid-word says nothing).
   */
  typing: TypingChange;
  /** A watched user's status (see watchPresence): now, after every (re)connect, and on every change. */
  presence: PresenceChange;
}
