/**
 * The user's safety and tidiness settings (PROTOCOL.md, Blocking, reports
 * and conversation settings): blocks, reports to the app's moderators, and
 * mute / pin / archive per conversation, over HTTP. Each change reaches the
 * user's other devices as a `settings` event (SETTINGS_CHANGED).
 */
import type { Api, Conversation } from "./api.ts";
import { MessageActions } from "./lifecycle.ts";

export interface Blocked {
  user: string;
  /** When the user blocked them. */
  since: string;
}

export type ReportReason = "spam" | "harassment" | "other";

export interface NewReport {
  /** The conversation the report is about (the peer, or a group id). */
  conversation: string;
  /** Up to 20 server ids of its messages; the server attaches them, and the 10 before each, from the user's own log. */
  messages?: string[];
  /** The user reported: a party of the conversation. A report needs messages, a user, or both. */
  user?: string;
  reason: ReportReason;
  /** Up to 1,000 characters for the moderators. */
  note?: string;
}

/** What `updateConversation` may change; fields left out stay as they are. */
export interface ConversationSettings {
  /** Muted until this ISO time (no push, out of the total unread); null unmutes. */
  mutedUntil?: string | null;
  pinned?: boolean;
  /** Archived conversations are listed only with `conversations({ archived: true })`. */
  archived?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isNothing = (v: unknown): v is undefined => v === undefined;

function isBlockList(v: unknown): v is { blocked: Blocked[] } {
  return (
    isObject(v) &&
    Array.isArray(v.blocked) &&
    v.blocked.every((b) => isObject(b) && typeof b.user === "string" && typeof b.since === "string")
  );
}

function isConversation(v: unknown): v is Conversation {
  return isObject(v) && typeof v.id === "string" && typeof v.pinned === "boolean" && typeof v.archived === "boolean";
}

export abstract class SafetyActions extends MessageActions {
  protected abstract override readonly api: Api;

  /**
   * Blocks a user: their direct messages, receipts, typing and presence stop
   * reaching this user, this user's presence stops reaching them, and they
   * cannot add this user to a group. Nobody tells them. Idempotent.
   */
  async block(user: string): Promise<void> {
    await this.api.call(`/v1/blocks/${encodeURIComponent(user)}`, { method: "PUT" }, isNothing);
  }

  /** Lifts a block (idempotent); what was withheld while it held stays withheld. */
  async unblock(user: string): Promise<void> {
    await this.api.call(`/v1/blocks/${encodeURIComponent(user)}`, { method: "DELETE" }, isNothing);
  }

  /** The users this user blocks, oldest block first (a client may hide their group messages with it). */
  async blocks(): Promise<Blocked[]> {
    return (await this.api.call("/v1/blocks", {}, isBlockList)).blocked;
  }

  /** Reports messages and/or a user to the app's moderators; resolves to the report's id. 429 ApiError past REPORTS_PER_DAY. */
  async report(report: NewReport): Promise<string> {
    const answer = await this.api.call(
      "/v1/reports",
      { method: "POST", body: report },
      (v): v is { id: string } => isObject(v) && typeof v.id === "string",
    );
    return answer.id;
  }

  /** Mutes, pins or archives one of the user's conversations; resolves to it as listed. 404 ApiError for one the user does not have. */
  updateConversation(id: string, settings: ConversationSettings): Promise<Conversation> {
    return this.api.call(`/v1/conversations/${encodeURIComponent(id)}`, { method: "PATCH", body: settings }, isConversation);
  }
}
