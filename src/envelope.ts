/**
 * A frame on its way from one object to another (an outbox row, an RPC
 * argument) or in a log. `frame` is the JSON text without `seq`: each
 * receiving log adds its own.
 */
import { isoSecond, userMsgText } from "./protocol/build.ts";
import type { ChangeContent, SendFrame } from "./protocol/frames.ts";

export interface Envelope {
  /** The server's id of the frame. */
  id: string;
  sender: string;
  /** A user, or a group id. */
  recipient: string;
  /**
   * What the frame is: a message, a receipt, a server notice, a change to a
   * group, or an error logged for the user (a group message refused after
   * its ack). Of these USER_MSG, NOTICE and GROUP_EVENT are a
   * conversation's history; the others are not.
   */
  type: EnvelopeType;
  frame: string;
  /** The earlier message's server id: the one a reply answers, or an edit, delete or reaction changes. */
  ref?: string;
  /** A group message on its way to the group: the sender's client id, for the late-removal ERROR's `ref`. */
  clientId?: string;
  /** The connection id of the socket that sent it: that socket does not get the sender's copy back. */
  origin?: string;
  /** A group's frame on its way to a member: its place in the group's order (`gseq`). */
  gseq?: number;
  /**
   * The group frame the member must already have before this one: set when
   * the member's frames came from another of the group's fan-out objects
   * until just before (it was moved, or it was removed and added back).
   */
  after?: number;
}

/**
 * A message is USER_MSG; its changes travel as USER_MSG frames too, but are
 * typed apart here (and in every log), so that everything that counts
 * messages (history, unread, the list's order, receipts, webhooks) leaves
 * them out without a second look. SETTINGS is a user's own SETTINGS_CHANGED.
 */
export type EnvelopeType = "USER_MSG" | ChangeContent | "ACK_MSG" | "NOTICE" | "GROUP_EVENT" | "ERROR" | "SETTINGS";

/** The frames that make a conversation's history and move it up the list (PROTOCOL.md, Conversations). */
export const HISTORY_TYPES: readonly EnvelopeType[] = ["USER_MSG", "NOTICE", "GROUP_EVENT"];

/** A user's message, or change to one, as it leaves their object, for a user or a group. */
export function messageEnvelope(sender: string, serverId: string, frame: SendFrame, now: number): Envelope {
  const raw = frame.content === "MESSAGE_DELETE" ? null : frame.content === "REACTION" ? JSON.stringify(frame.reaction) : frame.rawMessage;
  const ref = "ref" in frame ? frame.ref : frame.replyTo;
  const e: Envelope = {
    id: serverId,
    sender,
    recipient: frame.to,
    type: isChange(frame.content) ? frame.content : "USER_MSG",
    frame: userMsgText(serverId, sender, frame.to, isoSecond(now), frame.content, raw, ref),
  };
  if (ref !== undefined) e.ref = ref;
  return e;
}

/** Whether a logged frame changes an earlier message (an edit, delete or reaction). */
export function isChange(type: string): type is ChangeContent {
  return type === "MESSAGE_EDIT" || type === "MESSAGE_DELETE" || type === "REACTION";
}
