/**
 * The LunarLoom client: `import { LunarLoomClient } from "lunarloom-edge/client"`.
 * Runs in browsers and Node 22+ (global WebSocket).
 */
export {
  LunarLoomClient,
  type ClientEvents,
  type ClientOptions,
  type ConnectionState,
  type SendOptions,
  type ServerError,
} from "./client.ts";
export { SendError, type Ack, type Outgoing } from "./outbox.ts";
export { MAX_FILE_BYTES, fileBytes, filePayload, isFilePayload, type FilePayload } from "./file.ts";
export type { BackoffOptions } from "./backoff.ts";
export type { HeartbeatOptions, NetworkSignal, TokenSource, WebSocketConstructor, WebSocketLike } from "./connection.ts";
export type { OutgoingReceipt, OutgoingUserMsg } from "./frames.ts";
export type { ErrorCode, ReceiptContent, ReceiptFrame, UserContent, UserMsgFrame } from "../protocol.ts";
