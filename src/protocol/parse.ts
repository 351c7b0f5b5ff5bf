/**
 * Parsing and validation of client frames (PROTOCOL.md). Pure: tests and the
 * client library can use it anywhere.
 */
import {
  type ClientFrame,
  type ErrorCode,
  isGroupId,
  type MessageContent,
  type MessageSend,
  type ReceiptContent,
  type SendFrame,
  type UserContent,
} from "./frames.ts";

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    reason: string,
    readonly ref?: string,
  ) {
    super(reason);
  }
}

export interface Limits {
  maxMessageBytes: number;
  maxIdLength: number;
  maxDepth: number;
}

/** A conversation id for a group: `group:` and a UUID (the form the server makes). */
const GROUP_ID = /^group:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Longer than any JWT an identity provider issues, short enough that verifying it is cheap. */
export const MAX_TOKEN_LENGTH = 8192;
/** PROTOCOL.md, Ephemeral events: at most this many users per presence subscription. */
export const MAX_PRESENCE_USERS = 100;

const USER_CONTENTS: ReadonlySet<string> = new Set<UserContent>([
  "TEXT_MESSAGE",
  "FILE_MESSAGE",
  "MESSAGE_EDIT",
  "MESSAGE_DELETE",
  "REACTION",
]);
/** PROTOCOL.md, Replies, edits, deletes and reactions: a reaction's key is 1-64 bytes of UTF-8. */
export const MAX_REACTION_KEY_BYTES = 64;
/** Receipt contents as clients may spell them; the original server's `MESSAGE_DELIVERD` is its own spelling of delivered. */
const RECEIPT_CONTENTS: ReadonlyMap<string, ReceiptContent> = new Map<string, ReceiptContent>([
  ["MESSAGE_DELIVERED", "MESSAGE_DELIVERED"],
  ["MESSAGE_DELIVERD", "MESSAGE_DELIVERED"],
  ["MESSAGE_READ", "MESSAGE_READ"],
]);
const encoder = new TextEncoder();

/** UTF-8 length without encoding when the answer is certain from the UTF-16 length. */
function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return encoder.encode(text).length > max;
}

/** Parses and validates one WebSocket message from a client; throws ProtocolError. */
export function parseClientFrame(data: string | ArrayBuffer, limits: Limits): ClientFrame {
  if (typeof data !== "string") {
    if (data.byteLength > limits.maxMessageBytes) {
      throw new ProtocolError("TOO_LARGE", `frame is ${data.byteLength} bytes, the limit is ${limits.maxMessageBytes}`);
    }
    throw new ProtocolError("BAD_MESSAGE", "binary frames are not supported; send JSON text");
  }
  if (exceedsBytes(data, limits.maxMessageBytes)) {
    throw new ProtocolError("TOO_LARGE", `frame is over the ${limits.maxMessageBytes}-byte limit`, frameRef(data, limits));
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new ProtocolError("BAD_JSON", "frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError("BAD_JSON", "frame must be a JSON object");
  }
  const frame = value as Record<string, unknown>;
  const ref = typeof frame.id === "string" && frame.id.length <= limits.maxIdLength ? frame.id : undefined;
  const scan = scanObject(data);
  if (scan.depth > limits.maxDepth) {
    throw new ProtocolError("BAD_MESSAGE", `JSON is nested deeper than ${limits.maxDepth} levels`, ref);
  }
  const field: Field = (name, required) => {
    const v = frame[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v.length === 0) {
      throw new ProtocolError("BAD_MESSAGE", v === undefined ? `'${name}' is required` : `'${name}' must be a non-empty string`, ref);
    }
    if (v.length > limits.maxIdLength) {
      throw new ProtocolError("BAD_MESSAGE", `'${name}' is longer than ${limits.maxIdLength} characters`, ref);
    }
    return v;
  };
  const type = frame.type;
  if (type === undefined) throw new ProtocolError("BAD_MESSAGE", "'type' is required", ref);
  if (typeof type !== "string") throw new ProtocolError("BAD_MESSAGE", "'type' must be a string", ref);

  /** An identity or conversation id: a user, or `group:<uuid>`. */
  const recipient = (name: string): string => {
    const to = field(name, true)!;
    if (isGroupId(to) && !GROUP_ID.test(to)) throw new ProtocolError("BAD_MESSAGE", `'${name}' is not a group id (group:<uuid>)`, ref);
    return to;
  };

  switch (type) {
    case "USER_MSG":
      return parseSend(frame, field, recipient, scan.message, ref);
    case "ACK_MSG": {
      const id = field("id", false);
      const content = RECEIPT_CONTENTS.get(field("content", true)!);
      if (content === undefined) {
        throw new ProtocolError("BAD_MESSAGE", "'content' must be MESSAGE_DELIVERED or MESSAGE_READ", ref);
      }
      const messageId = field("message", true)!;
      return { type, id, content, messageId };
    }
    case "SYSTEM_MSG": {
      const id = field("id", false);
      if (frame.content !== "TOKEN_REFRESH") throw new ProtocolError("BAD_MESSAGE", "a client's SYSTEM_MSG must be a TOKEN_REFRESH", ref);
      const token = frame.message;
      if (typeof token !== "string" || token.length === 0) {
        throw new ProtocolError("BAD_MESSAGE", "'message' must be the new token (a non-empty string)", ref);
      }
      if (token.length > MAX_TOKEN_LENGTH) throw new ProtocolError("BAD_TOKEN", `token is longer than ${MAX_TOKEN_LENGTH} characters`, ref);
      return { type, content: "TOKEN_REFRESH", id, token };
    }
    case "EVENT_MSG": {
      const id = field("id", false);
      if (frame.content === "TYPING") {
        const to = recipient("to");
        if (typeof frame.message !== "boolean") throw new ProtocolError("BAD_MESSAGE", "'message' must be true or false", ref);
        return { type, content: "TYPING", id, to, typing: frame.message };
      }
      if (frame.content === "PRESENCE_SUBSCRIBE") {
        const users = frame.message;
        if (!Array.isArray(users) || !users.every((u) => typeof u === "string" && u.length > 0 && u.length <= limits.maxIdLength)) {
          throw new ProtocolError("BAD_MESSAGE", `'message' must be a list of user ids (1 to ${limits.maxIdLength} characters)`, ref);
        }
        if (users.length > MAX_PRESENCE_USERS) {
          throw new ProtocolError("BAD_MESSAGE", `at most ${MAX_PRESENCE_USERS} users per presence subscription`, ref);
        }
        return { type, content: "PRESENCE_SUBSCRIBE", id, users: [...new Set(users as string[])] };
      }
      throw new ProtocolError("BAD_MESSAGE", "'content' must be TYPING or PRESENCE_SUBSCRIBE", ref);
    }
    default:
      throw new ProtocolError(
        "UNKNOWN_TYPE",
        `unknown type ${JSON.stringify(type.slice(0, 32))}; expected USER_MSG, ACK_MSG, SYSTEM_MSG or EVENT_MSG`,
        ref,
      );
  }
}

type Field = (name: string, required: boolean) => string | undefined;

/** A USER_MSG: a message (with an optional `replyTo`), or an edit, delete or reaction of the message named by `ref`. */
function parseSend(
  frame: Record<string, unknown>,
  field: Field,
  recipient: (name: string) => string,
  rawMessage: string | undefined,
  ref: string | undefined,
): SendFrame {
  const id = field("id", true)!;
  const to = recipient("to");
  const content = field("content", true)!;
  if (!USER_CONTENTS.has(content)) {
    throw new ProtocolError("BAD_MESSAGE", "'content' must be TEXT_MESSAGE, FILE_MESSAGE, MESSAGE_EDIT, MESSAGE_DELETE or REACTION", ref);
  }
  const type = "USER_MSG" as const;
  // A delete carries no payload: a `message` on one is dropped like any unknown field.
  if (content === "MESSAGE_DELETE") return { type, id, to, content, ref: field("ref", true)! };
  if (rawMessage === undefined) throw new ProtocolError("BAD_MESSAGE", "'message' is required", ref);
  switch (content) {
    case "MESSAGE_EDIT":
      return { type, id, to, content, ref: field("ref", true)!, rawMessage };
    case "REACTION":
      return { type, id, to, content, ref: field("ref", true)!, reaction: reactionOf(frame.message, ref) };
    default: {
      const replyTo = field("replyTo", false);
      const message: MessageSend = { type, id, to, content: content as MessageContent, rawMessage };
      return replyTo === undefined ? message : { ...message, replyTo };
    }
  }
}

function reactionOf(message: unknown, ref: string | undefined): { key: string; on: boolean } {
  const { key, on } = (typeof message === "object" && message !== null ? message : {}) as Record<string, unknown>;
  if (typeof key !== "string" || key.length === 0 || exceedsBytes(key, MAX_REACTION_KEY_BYTES)) {
    throw new ProtocolError("BAD_MESSAGE", `a reaction's 'message.key' must be a string of 1 to ${MAX_REACTION_KEY_BYTES} bytes`, ref);
  }
  if (typeof on !== "boolean") throw new ProtocolError("BAD_MESSAGE", "a reaction's 'message.on' must be true or false", ref);
  return { key, on };
}

/**
 * The client's id of a frame that will not be served (too large, rate
 * limited), so the client knows which one to resend or drop. Costs a parse,
 * which the per-user rate limit bounds (and the platform caps message size).
 */
export function frameRef(data: string | ArrayBuffer, limits: Pick<Limits, "maxIdLength">): string | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const id = (JSON.parse(data) as { id?: unknown } | null)?.id;
    return typeof id === "string" && id.length <= limits.maxIdLength ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One pass over already-validated JSON text: the nesting depth, and the raw
 * text of the top-level `message` member (the last one, as JSON.parse keeps),
 * so the payload is relayed byte for byte and never re-serialized.
 */
export function scanObject(text: string): { depth: number; message?: string } {
  let depth = 0;
  let maxDepth = 0;
  let expectKey = false;
  let inMessage = false;
  let valueStart = -1;
  let message: string | undefined;
  const endValue = (end: number) => {
    if (inMessage) message = text.slice(valueStart, end).trim();
    inMessage = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (JSON.parse(text.slice(start, i + 1)) === "message") {
          inMessage = true;
          valueStart = text.indexOf(":", i) + 1;
        }
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (depth === 1) endValue(i);
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      endValue(i);
      expectKey = true;
    }
  }
  return { depth: maxDepth, message };
}
