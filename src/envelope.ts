/**
 * A frame on its way from one object to another (an outbox row, an RPC
 * argument) or in a log. `frame` is the JSON text without `seq`: each
 * receiving log adds its own.
 */
import { isoSecond, userMsgText } from "./protocol/build.ts";
import type { SendFrame } from "./protocol/frames.ts";

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
  /** A group message on its way to the group: the sender's client id, for the late-removal ERROR's `ref`. */
  clientId?: string;
  /** The connection id of the socket that sent it: that socket does not get the sender's copy back. */
  origin?: string;
}

export type EnvelopeType = "USER_MSG" | "ACK_MSG" | "NOTICE" | "GROUP_EVENT" | "ERROR";

/** The frames that make a conversation's history and move it up the list (PROTOCOL.md, Conversations). */
export const HISTORY_TYPES: readonly EnvelopeType[] = ["USER_MSG", "NOTICE", "GROUP_EVENT"];

/** A user's message as it leaves their object, for a user or a group. */
export function messageEnvelope(sender: string, serverId: string, frame: SendFrame, now: number): Envelope {
  return {
    id: serverId,
    sender,
    recipient: frame.to,
    type: "USER_MSG",
    frame: userMsgText(serverId, sender, frame.to, isoSecond(now), frame.content, frame.rawMessage),
  };
}
