/**
 * The one place that builds server frames: the server's `id`, `from` and
 * `time` are set here, so no frame is hand-assembled twice. Stored frames are
 * JSON text without `seq` (each receiving log adds its own, see withSeq).
 */
import type {
  ConnectionIdFrame,
  ConnectionLimits,
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
  SettingsChange,
  SettingsChangedFrame,
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
 * its own). The payload is spliced in as the client's raw JSON text, last:
 * every field before it is a JSON string, in which a quote is always
 * escaped, so the first `,"message":` is the payload's key (see PAYLOAD).
 * `link` is the message a reply answers (`replyTo`) or a change changes
 * (`ref`); a delete has no payload (`rawMessage` null).
 */
export function userMsgText(
  id: string,
  from: string,
  to: string,
  time: string,
  content: UserContent,
  rawMessage: string | null,
  link?: string,
): string {
  const linked =
    link === undefined ? "" : `,"${content === "TEXT_MESSAGE" || content === "FILE_MESSAGE" ? "replyTo" : "ref"}":${str(link)}`;
  const payload = rawMessage === null ? "" : `${PAYLOAD}${rawMessage}`;
  return `{"id":${str(id)},"from":${str(from)},"to":${str(to)},"type":"USER_MSG","time":${str(time)},"content":${str(content)}${linked}${payload}}`;
}

/** Where the payload starts in a frame the server built (userMsgText, noticeText): always its last member. */
const PAYLOAD = ',"message":';

/** The payload's raw JSON text in a frame the server built; undefined if it has none. */
export function payloadOf(text: string): string | undefined {
  const at = text.indexOf(PAYLOAD);
  return at < 0 ? undefined : text.slice(at + PAYLOAD.length, -1);
}

/** The `time` of a frame the server built (every field before it is a JSON string, see userMsgText). */
export function timeOf(text: string): string {
  const at = text.indexOf(',"time":"') + 9;
  return text.slice(at, at + 20);
}

/** A frame (or webhook body) the server built, with its payload erased: `"message":null`. */
export function erased(text: string): string {
  const at = text.indexOf(PAYLOAD);
  return at < 0 ? text : `${text.slice(0, at)}${PAYLOAD}null}`;
}

/**
 * SQL that rewrites a stored frame's text (the column `frame`) with its
 * payload erased (`"message":null`), for a message deleted for everyone;
 * frames without a payload stay as they are. The same cut as payloadOf.
 */
export const ERASED_FRAME_SQL = `CASE WHEN instr(frame, '${PAYLOAD}') > 0 THEN substr(frame, 1, instr(frame, '${PAYLOAD}') - 1) || '${PAYLOAD}null}' ELSE frame END`;

/** What history adds to a message: how it is now (user/state.ts keeps it). */
export interface MessageState {
  /** The latest edit's payload (raw JSON text); null if never edited or deleted. */
  message: string | null;
  edited: string | null;
  deleted: string | null;
  /** JSON text of `[{"key","count","me"}]`, in order of first use; null if none. */
  reactions: string | null;
}

/** A logged message as history shows it: its latest payload, and `edited`, `deleted` and `reactions` as they apply. */
export function currentText(text: string, state: MessageState): string {
  let out = text;
  // The log row was erased in the same commit; cutting here too keeps a view from ever showing more.
  if (state.deleted !== null) return `${out.slice(0, out.indexOf(PAYLOAD))}${PAYLOAD}null,"deleted":${str(state.deleted)}}`;
  if (state.message !== null) out = `${out.slice(0, out.indexOf(PAYLOAD))}${PAYLOAD}${state.message},"edited":${str(state.edited)}}`;
  if (state.reactions !== null) out = `${out.slice(0, -1)},"reactions":${state.reactions}}`;
  return out;
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

export function connectionIdFrame(user: string, connectionId: string, seq: number, limits: ConnectionLimits, now: number): string {
  const frame: ConnectionIdFrame = {
    id: crypto.randomUUID(),
    from: "system",
    to: user,
    type: "SYSTEM_MSG",
    time: isoSecond(now),
    content: "CONNECTION_ID",
    message: { connectionId, user, seq, limits },
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
 * was on its way, or the group refused the reply, edit, delete or reaction
 * in its order): the code, the client's id as `ref` and the server id it was
 * acked with. Logged for the sender, so without `seq` here.
 */
export function lateRefusalText(
  id: string,
  clientId: string | undefined,
  serverId: string,
  now: number,
  code: ErrorCode,
  reason: string,
): string {
  const frame: Omit<ErrorFrame, "seq"> = {
    id,
    from: "system",
    type: "SYSTEM_MSG",
    time: isoSecond(now),
    content: "ERROR",
    message: { code, reason, ref: clientId, id: serverId },
  };
  return str(frame);
}

/** A change to the user's own settings, as stored in their log and sent to their sockets (without `seq`). */
export function settingsText(id: string, to: string, time: string, change: SettingsChange): string {
  const frame: Omit<SettingsChangedFrame, "seq"> = {
    id,
    from: "system",
    to,
    type: "SYSTEM_MSG",
    time,
    content: "SETTINGS_CHANGED",
    message: change,
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
