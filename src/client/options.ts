/** What a LunarLoomClient is constructed and connected with. */
import type { FetchLike } from "./api.ts";
import type { BackoffOptions } from "./backoff.ts";
import type { HeartbeatOptions, NetworkSignal, TokenSource, WebSocketConstructor } from "./connection.ts";

export interface ClientOptions {
  /** The server's origin, e.g. `https://chat.example.com` (http(s) or ws(s)); the client connects to its `/ws` and calls its `/v1`. */
  url: string;
  /**
   * A token, or a function returning a fresh one; it is called before every
   * connection attempt, and for HTTP calls once the latest token has less
   * than 30 s left (or the server refused it).
   */
  token: TokenSource;
  /**
   * The `seq` to resume after, e.g. `lastSeq` as the app stored it; 0 replays
   * the whole retained log. Omitted, the first connection takes only the
   * server's offline queue, as clients of the original docs do.
   */
  since?: number;
  backoff?: Partial<BackoffOptions>;
  heartbeat?: Partial<HeartbeatOptions>;
  /** Defaults to the global WebSocket (browsers, Node 22+). */
  WebSocket?: WebSocketConstructor;
  /** Online/offline events; defaults to `window` in a browser, none elsewhere. */
  network?: NetworkSignal | null;
  /** Defaults to the global fetch (browsers, Node 22+). */
  fetch?: FetchLike;
  /** The server's MAX_MESSAGE_BYTES (default 64 KiB): a bigger message is refused at once instead of sent. */
  maxMessageBytes?: number;
}

export interface ConnectOptions {
  /**
   * Resume after this seq instead of the constructor's `since`, e.g. the
   * newest `lastSeq` of a conversation list fetched first: frames at or
   * below it are not replayed. It never moves the position back.
   */
  since?: number;
}
