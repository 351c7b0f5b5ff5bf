/**
 * The LunarLoom wire protocol (PROTOCOL.md): frame types, parsing and
 * validation of client frames, and the one place that builds server frames.
 *
 * Pure: no runtime APIs beyond `crypto.randomUUID`, so tests and the client
 * library can use it anywhere.
 */

export type UserContent = "TEXT_MESSAGE" | "FILE_MESSAGE";
export type ReceiptContent = "MESSAGE_DELIVERED" | "MESSAGE_READ";
export type ErrorCode =
  | "BAD_JSON"
  | "BAD_MESSAGE"
  | "UNKNOWN_TYPE"
  | "TOO_LARGE"
  | "RATE_LIMITED"
  | "UNKNOWN_MESSAGE"
  | "FORBIDDEN"
  | "INTERNAL";

// ---- server → client frames ----------------------------------------------

/** A message as every socket of the recipient (and the sender's others) sees it. */
export interface UserMsgFrame {
  id: string;
  from: string;
  to: string;
  type: "USER_MSG";
  time: string;
  content: UserContent;
  message: unknown;
  seq: number;
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

/** A delivery or read receipt, as the original sender (and the recipient's other sockets) sees it. */
export interface ReceiptFrame {
  id: string;
  from: string;
  to: string;
  type: "ACK_MSG";
  time: string;
  content: ReceiptContent;
  message: string;
  seq: number;
}

export interface ConnectionIdFrame {
  id: string;
  from: "system";
  to: string;
  type: "SYSTEM_MSG";
  time: string;
  content: "CONNECTION_ID";
  message: { connectionId: string; user: string; seq: number };
}

export interface ErrorFrame {
  id: string;
  from: "system";
  type: "SYSTEM_MSG";
  time: string;
  content: "ERROR";
  message: { code: ErrorCode; reason: string; ref?: string };
}

export type ServerFrame = UserMsgFrame | ReceivedAckFrame | ReceiptFrame | ConnectionIdFrame | ErrorFrame;

// ---- client → server frames ----------------------------------------------

/** A validated USER_MSG. `rawMessage` is the payload's JSON text exactly as the client sent it. */
export interface SendFrame {
  type: "USER_MSG";
  id: string;
  to: string;
  content: UserContent;
  rawMessage: string;
}

export interface ReceiptRequest {
  type: "ACK_MSG";
  id?: string;
  content: ReceiptContent;
  messageId: string;
}

export type ClientFrame = SendFrame | ReceiptRequest;

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

const USER_CONTENTS: ReadonlySet<string> = new Set<UserContent>(["TEXT_MESSAGE", "FILE_MESSAGE"]);
const RECEIPT_CONTENTS: ReadonlySet<string> = new Set<ReceiptContent>(["MESSAGE_DELIVERED", "MESSAGE_READ"]);
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
  const field = (name: string, required: boolean): string | undefined => {
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

  if (type === "USER_MSG") {
    const id = field("id", true)!;
    const to = field("to", true)!;
    const content = field("content", true)!;
    if (!USER_CONTENTS.has(content)) {
      throw new ProtocolError("BAD_MESSAGE", "'content' must be TEXT_MESSAGE or FILE_MESSAGE", ref);
    }
    if (scan.message === undefined) throw new ProtocolError("BAD_MESSAGE", "'message' is required", ref);
    return { type, id, to, content: content as UserContent, rawMessage: scan.message };
  }
  if (type === "ACK_MSG") {
    const id = field("id", false);
    const content = field("content", true)!;
    if (!RECEIPT_CONTENTS.has(content)) {
      throw new ProtocolError("BAD_MESSAGE", "'content' must be MESSAGE_DELIVERED or MESSAGE_READ", ref);
    }
    const messageId = field("message", true)!;
    return { type, id, content: content as ReceiptContent, messageId };
  }
  throw new ProtocolError("UNKNOWN_TYPE", `unknown type ${JSON.stringify(type.slice(0, 32))}; expected USER_MSG or ACK_MSG`, ref);
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
function scanObject(text: string): { depth: number; message?: string } {
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

// ---- building server frames ------------------------------------------------

/** Every HTTP refusal has one shape: a status and `{ error, reason }`. */
export function httpError(status: number, error: string, reason: string): Response {
  return Response.json({ error, reason }, { status });
}

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
