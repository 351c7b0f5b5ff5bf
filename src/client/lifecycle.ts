/**
 * What a user does with a message after sending it (PROTOCOL.md, Replies,
 * edits, deletes and reactions): replies, edits, deletes for everyone and
 * reactions are USER_MSG frames that go through the outbox exactly as
 * `send` does (resent until acked, deduped by client id); delete for me is
 * an HTTP call. Their frames from the socket become typed events.
 */
import type { ChangeContent, ChangeFrame, MessageContent, SettingsChangedFrame } from "../protocol/frames.ts";
import type { Api } from "./api.ts";
import type { Emitter } from "./emitter.ts";
import type { ClientEvents } from "./events.ts";
import type { OutgoingUserMsg } from "./frames.ts";
import type { Outgoing } from "./outbox.ts";
import type { UnreadCounts } from "./unread.ts";

export interface ChangeOptions {
  /** The client id; a fresh UUID by default. Sending an id that is still pending returns that send. */
  id?: string;
}

export interface SendOptions extends ChangeOptions {
  content?: MessageContent;
  /** A reply: the server id of the message it answers, in the same conversation. */
  replyTo?: string;
}

/** The client's message actions; LunarLoomClient supplies the outbox (`queue`) and the HTTP side. */
export abstract class MessageActions {
  protected abstract readonly api: Api;
  protected abstract queue(frame: OutgoingUserMsg): Outgoing;
  abstract send(to: string, message: unknown, options?: SendOptions): Outgoing;

  /** A reply to the message `replyTo` (its server id, in the same conversation): `send` with that option. */
  reply(
    to: string,
    replyTo: string,
    message: unknown,
    options: ChangeOptions & { content?: "TEXT_MESSAGE" | "FILE_MESSAGE" } = {},
  ): Outgoing {
    return this.send(to, message, { ...options, replyTo });
  }

  /** Edits one of the user's messages (`ref`, its server id) to `message`; everyone in the conversation gets an `edit` event. */
  edit(to: string, ref: string, message: unknown, options: ChangeOptions = {}): Outgoing {
    return this.change(to, "MESSAGE_EDIT", ref, message, options.id);
  }

  /**
   * Deletes a message for everyone (the user's own; in a group an admin may
   * delete any): its payload is erased on the server, and everyone gets a
   * `delete` event.
   */
  deleteForEveryone(to: string, ref: string, options: ChangeOptions = {}): Outgoing {
    return this.change(to, "MESSAGE_DELETE", ref, undefined, options.id);
  }

  /** Puts a reaction (`key`: an emoji, or any 1-64 bytes) on a message, or takes it back with `on` false. */
  react(to: string, ref: string, key: string, on = true, options: ChangeOptions = {}): Outgoing {
    return this.change(to, "REACTION", ref, { key, on }, options.id);
  }

  /**
   * Deletes a message for the user alone: gone from their history, unread
   * and list on every device (each gets a `settings` event); others keep it.
   * Rejects with a 404 ApiError when the conversation has no such message.
   */
  deleteForMe(conversation: string, serverId: string): Promise<void> {
    return this.api.hide(conversation, serverId);
  }

  private change(to: string, content: ChangeContent, ref: string, message: unknown, id: string = crypto.randomUUID()): Outgoing {
    return this.queue({ id, to, type: "USER_MSG", content, ref, ...(message === undefined ? {} : { message }) });
  }
}

/** Hands over an edit, delete, reaction or settings frame from the socket (once: the cursor accepted it). */
export function changed(
  frame: ChangeFrame | SettingsChangedFrame,
  events: Emitter<ClientEvents>,
  unread: UnreadCounts,
  me: string | null,
): void {
  switch (frame.content) {
    case "MESSAGE_EDIT":
      events.emit("edit", frame);
      return;
    case "MESSAGE_DELETE":
      // Someone else's message deleted while unread is no longer unread.
      if (frame.from !== me) unread.gone(frame.ref);
      events.emit("delete", frame);
      return;
    case "REACTION":
      events.emit("reaction", frame);
      return;
    case "SETTINGS_CHANGED":
      if ("hidden" in frame.message) unread.gone(frame.message.hidden.message);
      events.emit("settings", frame);
      return;
  }
}
