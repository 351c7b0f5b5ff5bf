/**
 * The LunarLoom client: `import { LunarLoomClient } from "lunarloom-edge/client"`.
 * Runs in browsers and Node 22+ (global WebSocket).
 */

export type { ErrorCode, ReceiptContent, ReceiptFrame, UserContent, UserMsgFrame } from "../protocol/frames.ts";
export type { BackoffOptions } from "./backoff.ts";
export {
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  LunarLoomClient,
  type SendOptions,
  type ServerError,
} from "./client.ts";
export type { HeartbeatOptions, NetworkSignal, TokenSource, WebSocketConstructor, WebSocketLike } from "./connection.ts";
export { type FilePayload, fileBytes, filePayload, isFilePayload, MAX_FILE_BYTES } from "./file.ts";
export type { OutgoingReceipt, OutgoingUserMsg } from "./frames.ts";
export { type Ack, type Outgoing, SendError } from "./outbox.ts";
