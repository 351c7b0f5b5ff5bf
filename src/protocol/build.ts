/**
 * The one place that builds server frames: the server's `id`, `from` and
 * `time` are set here, so no frame is hand-assembled twice. Stored frames are
 * JSON text without `seq` (each receiving log adds its own, see withSeq).
 */
import type {
  ConnectionIdFrame,
  ErrorCode,
  ErrorFrame,
  GroupEvent,
  GroupEventFrame,
  NoticeFrame,
  PresenceFrame,
  PresenceStatus,
  ReceiptContent,
  ReceiptFrame,
  ReceivedAckFrame,
  TokenRefreshedFrame,
  TypingFrame,
  UserContent,
} from "./frames.ts";

/** ISO 8601 UTC to the second: `YYYY-MM-DDTHH:MM:SSZ`. */
export function isoSecond(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

const str = JSON.stringify;

/**
 * A USER_MSG as stored and relayed, without `seq` (each receiving log adds
 * its own). The payload is spliced in as the client's raw JSON text.
 */
export function userMsgText(id: string, from: string, to: string, time: string, content: UserContent, rawMessage: string): string {
  return `{"id":${str(id)},"from":${str(from)},"to":${str(to)},"type":"USER_MSG","time":${str(time)},"content":${str(content)},"message":${rawMessage}}`;
}

/** A receipt as stored and relayed, without `seq`. */
export function receiptText(id: string, from: string, to: string, time: string, content: ReceiptContent, messageId: string): string {
  const frame: Omit<ReceiptFrame, "seq"> = { id, from, to, type: "ACK_MSG", time, content, message: messageId };
  return str(frame);
}

/** Adds a log position to a stored frame's text (every stored frame is an object ending in `}`). */
export function withSeq(text: string, seq: number): string {
  return `${text.slice(0, -1)},"seq":${seq}}`;
}

export function receivedAck(clientId: string, from: string, time: string, serverId: string): string {
  const frame: ReceivedAckFrame = { id: clientId, from, type: "ACK_MSG", time, content: "MESSAGE_RECEIVED", message: serverId };
  return str(frame);
}

export function connectionIdFrame(user: string, connectionId: string, seq: number, now: number): string {
  const frame: ConnectionIdFrame = {
    id: crypto.randomUUID(),
    from: "system",
    to: user,
    type: "SYSTEM_MSG",
    time: isoSecond(now),
    content: "CONNECTION_ID",
    message: { connectionId, user, seq },
  };
  return str(frame);
}

export function errorFrame(code: ErrorCode, reason: string, ref: string | undefined, now: number): string {
  const frame: ErrorFrame = {
    id: crypto.randomUUID(),
    from: "system",
    type: "SYSTEM_MSG",
    time: isoSecond(now),
    content: "ERROR",
    message: ref === undefined ? { code, reason } : { code, reason, ref },
  };
  return str(frame);
}

/**
 * A group message refused after its ack (its sender was removed while it
 * was on its way): FORBIDDEN with the client's id as `ref` and the server id
 * it was acked with. Logged for the sender, so without `seq` here.
 */
export function lateRefusalText(id: string, clientId: string | undefined, serverId: string, now: number): string {
  const frame: Omit<ErrorFrame, "seq"> = {
    id,
    from: "system",
    type: "SYSTEM_MSG",
    time: isoSecond(now),
    content: "ERROR",
    message: {
      code: "FORBIDDEN",
      reason: "you were no longer a member of the group when it got your message",
      ref: clientId,
      id: serverId,
    },
  };
  return str(frame);
}

/** A change to a group, as stored and relayed (without `seq`). */
export function groupEventText(id: string, from: string, group: string, time: string, event: GroupEvent): string {
  const frame: Omit<GroupEventFrame, "seq"> = { id, from, to: group, type: "SYSTEM_MSG", time, content: "GROUP_EVENT", message: event };
  return str(frame);
}

/** A notice from the app's backend, as stored and relayed (without `seq`); the payload is spliced in as given. */
export function noticeText(id: string, to: string, time: string, rawMessage: string): string {
  const head: Omit<NoticeFrame, "seq" | "message"> = { id, from: "system", to, type: "SYSTEM_MSG", time, content: "NOTICE" };
  return `${str(head).slice(0, -1)},"message":${rawMessage}}`;
}

export function tokenRefreshed(ref: string | undefined, expiresAt: number | null, now: number): string {
  const frame: Omit<TokenRefreshedFrame, "id"> & { id?: string } = {
    id: ref,
    from: "system",
    type: "ACK_MSG",
    time: isoSecond(now),
    content: "TOKEN_REFRESHED",
    message: { expires: expiresAt === null ? null : isoSecond(expiresAt) },
  };
  return str(frame);
}

/** "typing…" (or stopped) from `from` in the conversation `to` (a user or a group): live only. */
export function typingText(from: string, to: string, typing: boolean, now: number): string {
  const frame: TypingFrame = {
    id: crypto.randomUUID(),
    from,
    to,
    type: "EVENT_MSG",
    content: "TYPING",
    message: typing,
    time: isoSecond(now),
  };
  return str(frame);
}

/** `of`'s presence, for a watcher `to`: live only. */
export function presenceText(of: string, to: string, status: PresenceStatus, now: number): string {
  const frame: PresenceFrame = {
    id: crypto.randomUUID(),
    from: of,
    to,
    type: "EVENT_MSG",
    content: "PRESENCE",
    message: status,
    time: isoSecond(now),
  };
  return str(frame);
}
